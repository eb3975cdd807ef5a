"""reaper/: the OSC pattern config and the ReaScripts.

The Lua scripts are syntax-checked with luac and run with lua5.4 against a fake `reaper` API
(reaper/test/fake_reaper.lua); the pattern config is parsed, and the messages REAPER sends with
it go to a real `beatgan serve`.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAPER = ROOT / "reaper"
CONFIG = REAPER / "BeatGAN.ReaperOSC"
FAKE = REAPER / "test" / "fake_reaper.lua"
LUAC = shutil.which("luac5.4") or shutil.which("luac")
LUA = shutil.which("lua5.4") or shutil.which("lua")
SCRIPTS = sorted(REAPER.glob("*.lua"))

def lua() -> str:
    # Not a skip: CI must install lua5.4, and a missing Lua must not pass silently.
    assert LUA, "Lua is not installed: apt-get install lua5.4"
    return LUA


# --------------------------------------------------------------------------------------------
# Syntax

@pytest.mark.parametrize("script", SCRIPTS + [FAKE], ids=lambda p: p.name)
def test_lua_compiles(script):
    assert LUAC, "luac is not installed: apt-get install lua5.4 (its compiler is luac5.4)"
    run = subprocess.run([LUAC, "-p", str(script)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_scripts_are_there():
    assert {p.name for p in SCRIPTS} == {"beatgan_lib.lua", "beatgan_insert_newest.lua",
                                         "beatgan_generate_insert.lua", "beatgan_settings.lua",
                                         "beatgan_insert_parts.lua"}


# Action names REAPER's Default.ReaperOSC defines that this config may use, and the pattern types.
REAPER_ACTIONS = {"TEMPO", "PLAY", "STOP", "PAUSE", "RECORD", "REPEAT", "TIME", "BEAT",
                  "DEVICE_TRACK_COUNT", "DEVICE_SEND_COUNT", "DEVICE_RECEIVE_COUNT",
                  "DEVICE_FX_COUNT", "DEVICE_FX_PARAM_COUNT", "DEVICE_MARKER_COUNT",
                  "DEVICE_REGION_COUNT"}
PATTERN_TYPES = set("nftbsri")


def config_patterns() -> dict[str, list[tuple[str, str]]]:
    """{action: [(type, address), ...]} from the pattern config."""
    actions: dict[str, list[tuple[str, str]]] = {}
    for line in CONFIG.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        action, *patterns = line.split()
        assert action in REAPER_ACTIONS, f"unknown REAPER OSC action {action}"
        assert action not in actions, f"{action} defined twice"
        actions[action] = []
        for p in patterns:
            if action.startswith("DEVICE_"):
                assert p.isdigit(), line
                continue
            assert p[0] in PATTERN_TYPES and p[1] == "/", f"bad pattern {p!r} in {line!r}"
            actions[action].append((p[0], p[1:]))
    return actions


def test_pattern_config_sends_tempo_and_play_state_only():
    actions = config_patterns()
    assert actions == {"TEMPO": [("f", "/tempo/raw")], "PLAY": [("t", "/beatgan/play")]}


def reaper_feedback(bpm: float, playing: bool) -> list[tuple[str, float]]:
    """The messages REAPER's OSC surface sends with this config: f = the raw value, t = 1.0/0.0."""
    out = []
    for action, patterns in config_patterns().items():
        value = {"TEMPO": bpm, "PLAY": 1.0 if playing else 0.0}[action]
        for kind, address in patterns:
            out.append((address, float(value)))
    return out


@pytest.fixture(scope="module")
def daemon(tiny_model, tmp_path_factory):
    """One real daemon for this module's tests (starting one takes a few seconds)."""
    from _daw_daemon import running_daemon

    home = tmp_path_factory.mktemp("reaper_daemon")
    with running_daemon(tiny_model, home / "BeatGAN", home) as d:
        d.out = home / "BeatGAN"
        yield d


def test_reaper_tempo_reaches_the_daemon(daemon):
    daemon.drain(wait=0.1)
    for address, value in reaper_feedback(123.0, playing=False):
        if address == "/tempo/raw":
            daemon.send_bytes(float_message(address, value))
    daemon.send("/beatgan/generate", -1, 0.0, 1)   # bpm 0: the host tempo
    _, (path, seed, bpm, bars, latency) = daemon.receive("/beatgan/done")
    assert bpm == pytest.approx(123.0)
    assert [r for r in daemon.drain() if r[0] == "/beatgan/error"] == []


def test_reaper_play_state_is_understood_by_the_daemon(daemon):
    daemon.drain(wait=0.1)
    for playing in (True, False):
        for address, value in reaper_feedback(120.0, playing):
            if address == "/beatgan/play":
                daemon.send_bytes(float_message(address, value))
    replies = daemon.drain(wait=1.0)
    assert len(replies) == 2, replies
    # This daemon runs with --no-audio, so it may refuse to play or stop; it must understand
    # REAPER's 1.0 / 0.0 (an argument error would mean REAPER's feedback never works).
    for address, args in replies:
        if address == "/beatgan/error":
            assert args[0] == "/beatgan/play" and "no audio output" in args[1], args
        else:
            assert address == "/beatgan/playing"


def float_message(address: str, value: float) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder
    b = OscMessageBuilder(address)
    b.add_arg(value, "f")   # REAPER sends toggles and raw values as 32-bit floats
    return b.build().dgram


# --------------------------------------------------------------------------------------------
# The scripts, run against the fake REAPER

def to_lua(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))   # JSON string escapes are valid Lua escapes here
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{to_lua(k)}] = {to_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def run_script(tmp_path, name, home=None, env=None, **scenario) -> dict:
    scenario["script"] = REAPER / name
    path = tmp_path / "scenario.lua"
    path.write_text("return " + to_lua(scenario) + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home or tmp_path), **(env or {})}
    run = subprocess.run([lua(), str(FAKE), str(path)], capture_output=True, text=True,
                         timeout=30, env=env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    for key in ("ext", "items"):
        if result[key] == []:
            result[key] = {}
    return result


def loop_name(stamp="20250101-120000-123", seed=1, counter=None, tag=None):
    parts = ["beatgan"] + ([tag] if tag else []) + ["120bpm", f"s{seed}", "1bar",
                                                    stamp + (f"-{counter}" if counter else "")]
    return "_".join(parts) + ".wav"


@pytest.fixture
def loops(tmp_path):
    folder = tmp_path / "loops"
    folder.mkdir()
    names = [loop_name("20250101-120000-123", 1), loop_name("20250101-120000-123", 2, counter=2),
             loop_name("20241231-235959-999", 3), loop_name("20250101-115959-999", 4, tag="var030")]
    for n in names + ["other.wav", ".beatgan-abc.part", "beatgan_notes.txt"]:
        (folder / n).write_bytes(b"RIFF")
    return folder


def test_insert_newest_puts_the_newest_loop_on_the_selected_track_at_the_cursor(tmp_path, loops):
    r = run_script(tmp_path, "beatgan_insert_newest.lua", ext={"folder": loops}, tracks=3,
                   selected=[2], last_touched=3, cursor=4.5)
    newest = str(loops / loop_name("20250101-120000-123", 2, counter=2))
    assert r["items"] == {"1": [], "2": [{"file": newest, "position": 4.5}], "3": []}
    assert r["messages"] == []
    assert r["undo"] == ["begin", "BeatGAN: insert " + Path(newest).name]
    assert r["ui_refresh"] == 0, "PreventUIRefresh calls are balanced"
    assert r["refreshed"] >= 1, "the folder listing is re-read, not REAPER's cached one"


def test_insert_newest_needs_a_selected_track(tmp_path, loops):
    r = run_script(tmp_path, "beatgan_insert_newest.lua", ext={"folder": loops}, selected=[])
    assert r["items"] == {"1": [], "2": []}
    assert r["messages"] == ["Select the track that should receive the loop first."]


def test_insert_newest_explains_an_empty_folder(tmp_path):
    r = run_script(tmp_path, "beatgan_insert_newest.lua", ext={"folder": tmp_path / "nowhere"},
                   selected=[1])
    assert r["items"]["1"] == []
    assert "No BeatGAN loops in " + str(tmp_path / "nowhere") in r["messages"][0]
    assert "beatgan serve" in r["messages"][0]


def test_default_folder_is_music_beatgan_in_home(tmp_path):
    folder = tmp_path / "Music" / "BeatGAN"
    folder.mkdir(parents=True)
    (folder / loop_name()).write_bytes(b"RIFF")
    r = run_script(tmp_path, "beatgan_insert_newest.lua", home=tmp_path, selected=[1])
    assert r["items"]["1"] == [{"file": str(folder / loop_name()), "position": 0}]


def test_a_file_reaper_refuses_is_reported(tmp_path, loops):
    newest = loop_name("20250101-120000-123", 2, counter=2)
    r = run_script(tmp_path, "beatgan_insert_newest.lua", ext={"folder": loops}, selected=[1],
                   unreadable=[newest])
    assert r["items"]["1"] == []
    assert r["messages"] == [f"REAPER did not insert {newest} (is it a readable WAV?)"]


def test_generate_insert_sends_a_note_and_inserts_the_new_loop(tmp_path, loops):
    fresh = loop_name("20240101-000000-000", 9)   # older-looking name: "new" means not there before
    r = run_script(tmp_path, "beatgan_generate_insert.lua", ext={"folder": loops, "note": "61"},
                   tracks=3, selected=[3], cursor=8.0,
                   midi_outputs=["Midi Through Port-0", "BeatGAN:BeatGAN 130:0"],
                   appear={"after_defers": 15, "folder": loops, "name": fresh})
    assert r["midi"] == [[17, 0x90, 61, 100], [17, 0x80, 61, 0]]
    assert r["items"]["3"] == [{"file": str(loops / fresh), "position": 8.0}]
    assert r["still_waiting"] is False and r["messages"] == []


def test_generate_insert_gives_up_after_its_timeout(tmp_path, loops):
    r = run_script(tmp_path, "beatgan_generate_insert.lua", ext={"folder": loops, "timeout_s": "2"},
                   selected=[1], midi_outputs=["BeatGAN"])
    assert r["items"]["1"] == [] and r["still_waiting"] is False
    assert r["messages"][0].startswith(f"No new loop in {loops} after 2 s.")
    assert 55 <= r["defers"] <= 70, "about 2 s of REAPER's ~30 Hz deferred calls"


def test_generate_insert_names_the_outputs_it_found(tmp_path, loops):
    r = run_script(tmp_path, "beatgan_generate_insert.lua", ext={"folder": loops}, selected=[1],
                   midi_outputs=["Midi Through Port-0", "USB Keys"])
    assert r["midi"] == []
    assert 'No enabled MIDI output named like "BeatGAN" (outputs: Midi Through Port-0, USB Keys)' \
        in r["messages"][0]


def test_settings_are_saved_and_checked(tmp_path):
    r = run_script(tmp_path, "beatgan_settings.lua",
                   user_inputs={"ok": True, "csv": "/data/loops,loopMIDI Port,40,12"})
    assert r["ext"] == {"folder": "/data/loops", "midi_out": "loopMIDI Port", "note": "40",
                        "timeout_s": "12"}
    bad = run_script(tmp_path, "beatgan_settings.lua",
                     user_inputs={"ok": True, "csv": "/data/loops,BeatGAN,128,30"})
    assert bad["ext"] == {} and "0-127" in bad["messages"][0]
    cancelled = run_script(tmp_path, "beatgan_settings.lua", ext={"note": "50"},
                           user_inputs={"ok": False, "csv": ""})
    assert cancelled["ext"] == {"note": "50"} and cancelled["messages"] == []


def test_insert_newest_finds_the_daemons_latest_loop(daemon, tmp_path):
    daemon.drain(wait=0.1)
    paths = []
    for seed in (5, 6, 7):
        daemon.send("/beatgan/generate", seed, 120.0, 1)
        paths.append(daemon.receive("/beatgan/done")[1][0])
    daemon.send("/beatgan/variation", 5, 0.3, 120.0, 1)
    paths.append(daemon.receive("/beatgan/done")[1][0])
    r = run_script(tmp_path, "beatgan_insert_newest.lua", ext={"folder": daemon.out},
                   selected=[1])
    assert r["items"]["1"] == [{"file": paths[-1], "position": 0}]


# --------------------------------------------------------------------------------------------
# The scripts' default folder is the daemon's (issue 23): the daemon notes it in folder.txt in
# its user data folder, the scripts read it from there on each OS.

def test_default_folder_is_the_one_the_daemon_noted(daemon, tmp_path):
    daemon.drain(wait=0.1)
    daemon.send("/beatgan/generate", 9, 120.0, 1)
    path = daemon.receive("/beatgan/done")[1][0]
    data = daemon.out.parent / "data"            # the daemon's XDG_DATA_HOME
    from beatgan.bridge.settings import FOLDER_NOTE
    assert (data / "beatgan" / FOLDER_NOTE).read_text().strip() == str(daemon.out.resolve())
    # No folder setting in REAPER, a HOME whose Music folder is empty: the daemon's folder wins.
    r = run_script(tmp_path, "beatgan_insert_newest.lua", home=tmp_path, selected=[1],
                   os="Linux-x86_64", env={"XDG_DATA_HOME": str(data)})
    assert r["items"]["1"] == [{"file": path, "position": 0}], r["messages"]


@pytest.mark.parametrize("os_name, note", [
    ("macOS-arm64", "Library/Application Support/beatgan/folder.txt"),
    ("OSX64", "Library/Application Support/beatgan/folder.txt"),
    ("Win64", "local/beatgan/beatgan/folder.txt"),
    ("Linux-x86_64", ".local/share/beatgan/folder.txt"),
])
def test_noted_folder_is_read_where_each_os_keeps_it(tmp_path, loops, os_name, note):
    (tmp_path / note).parent.mkdir(parents=True)
    (tmp_path / note).write_text(f"{loops}\n")
    r = run_script(tmp_path, "beatgan_insert_newest.lua", home=tmp_path, selected=[1],
                   os=os_name, env={"LOCALAPPDATA": str(tmp_path / "local")})
    newest = str(loops / loop_name("20250101-120000-123", 2, counter=2))
    assert r["items"]["1"] == [{"file": newest, "position": 0}], r["messages"]


def test_python_and_lua_agree_on_the_note_path(tmp_path, monkeypatch):
    """On Linux both follow XDG_DATA_HOME (platformdirs for the daemon)."""
    from beatgan.bridge.settings import folder_note_path
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = folder_note_path()
    expected.parent.mkdir(parents=True)
    folder = tmp_path / "somewhere"
    folder.mkdir()
    (folder / loop_name()).write_bytes(b"RIFF")
    expected.write_text(f"{folder}\n")
    r = run_script(tmp_path, "beatgan_insert_newest.lua", selected=[1], os="Linux-x86_64",
                   env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert r["items"]["1"] == [{"file": str(folder / loop_name()), "position": 0}]


# --------------------------------------------------------------------------------------------
# beatgan_insert_parts.lua: the newest loop's .mid on a new track, its stems as a folder

def parts_folder(tmp_path):
    """Two loops with their parts (voices numbered 0, 1, 10 and the floor); returns the folder
    and the newer loop's name without .wav."""
    folder = tmp_path / "parts"
    folder.mkdir()
    for stamp, seed in (("20250101-115959-999", 1), ("20250101-120000-123", 2)):
        base = loop_name(stamp, seed)[:-4]
        for suffix in (".wav", ".mid", "_stem1-hat.wav", "_stem0-kick.wav", "_stem-floor.wav",
                       "_stem10-tom-low.wav"):
            (folder / (base + suffix)).write_bytes(b"RIFF")
    return folder, loop_name("20250101-120000-123", 2)[:-4]


def test_insert_parts_puts_the_midi_on_a_new_track_and_the_stems_in_a_folder(tmp_path):
    folder, base = parts_folder(tmp_path)
    r = run_script(tmp_path, "beatgan_insert_parts.lua", ext={"folder": folder}, tracks=2,
                   selected=[1], cursor=3.0)
    assert r["messages"] == [], r
    assert [t["name"] for t in r["tracks"]] == ["", "BeatGAN MIDI", "BeatGAN stems", "kick",
                                                "hat", "tom-low", "floor", ""]
    assert [t["folder_depth"] for t in r["tracks"]] == [0, 0, 1, 0, 0, 0, -1, 0]
    at = {"position": 3.0}
    assert r["items"] == {
        "1": [], "2": [{"file": f"{folder}/{base}.mid", **at}], "3": [],
        "4": [{"file": f"{folder}/{base}_stem0-kick.wav", **at}],
        "5": [{"file": f"{folder}/{base}_stem1-hat.wav", **at}],
        "6": [{"file": f"{folder}/{base}_stem10-tom-low.wav", **at}],
        "7": [{"file": f"{folder}/{base}_stem-floor.wav", **at}], "8": []}
    assert r["undo"][0] == "begin"
    assert r["undo"][-1] == f"BeatGAN: insert the pattern and stems of {base}.wav"
    assert r["ui_refresh"] == 0


def test_insert_parts_without_a_selected_track_adds_at_the_end(tmp_path):
    folder, base = parts_folder(tmp_path)
    r = run_script(tmp_path, "beatgan_insert_parts.lua", ext={"folder": folder}, tracks=1,
                   selected=[])
    assert [t["name"] for t in r["tracks"]][:3] == ["", "BeatGAN MIDI", "BeatGAN stems"]


def test_insert_parts_explains_a_loop_without_parts(tmp_path, loops):
    r = run_script(tmp_path, "beatgan_insert_parts.lua", ext={"folder": loops}, selected=[1])
    assert len(r["tracks"]) == 2 and r["items"] == {"1": [], "2": []}
    assert "has no MIDI file or stems" in r["messages"][0]
    assert "--stems --midi" in r["messages"][0]
