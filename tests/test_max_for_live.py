"""The Max for Live device: .amxd build, patcher sanity, and beatgan.js under node with a fake Live.

The device logic runs in node (max_for_live/test/harness.js) against a fake LiveAPI that answers
the way the Live Object Model documents; the end-to-end test at the bottom sends the messages the
device builds to a real `beatgan serve` over UDP and feeds its reply back into the device.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
M4L = ROOT / "max_for_live"
MAXPAT = M4L / "BeatGAN.maxpat"
AMXD = M4L / "BeatGAN.amxd"
JS = M4L / "beatgan.js"
HARNESS = M4L / "test" / "harness.js"
NODE = shutil.which("node")


def load_builder():
    spec = importlib.util.spec_from_file_location("build_amxd", M4L / "build_amxd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = load_builder()


def patcher() -> dict:
    return json.loads(MAXPAT.read_text(encoding="utf-8"))["patcher"]


def boxes() -> dict[str, dict]:
    return {b["box"]["id"]: b["box"] for b in patcher()["boxes"]}


def class_of(box: dict) -> str:
    return box["text"].split()[0] if box["maxclass"] == "newobj" else box["maxclass"]


# --------------------------------------------------------------------------------------------
# .amxd build

def test_build_is_byte_for_byte_reproducible_and_committed():
    source = MAXPAT.read_bytes()
    first, second = builder.build(source), builder.build(source)
    assert first == second
    assert AMXD.read_bytes() == first, "BeatGAN.amxd is stale: run python max_for_live/build_amxd.py"
    run = subprocess.run([sys.executable, str(M4L / "build_amxd.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_amxd_chunk_layout():
    data = AMXD.read_bytes()
    body = MAXPAT.read_bytes().replace(b"\r\n", b"\n")
    assert data[:12] == b"ampf" + struct.pack("<I", 4) + b"aaaa"
    assert data[12:24] == b"meta" + struct.pack("<I", 4) + struct.pack("<I", 1)
    assert data[24:28] == b"ptch"
    (size,) = struct.unpack("<I", data[28:32])
    assert size == len(data) - 32, "ptch is the last chunk and runs to the end of the file"
    assert data[32:] == body.rstrip(b"\n") + b"\n\0"


def test_amxd_parses_back_to_the_source_patcher():
    parsed = builder.parse(AMXD.read_bytes())
    assert parsed["type"] == b"aaaa"
    assert parsed["meta"] == 1
    assert parsed["patcher"] == patcher()
    assert parsed["patcher"]["project"]["amxdtype"] == int.from_bytes(b"aaaa", "big")


def test_build_ignores_line_endings(tmp_path):
    crlf = MAXPAT.read_bytes().replace(b"\n", b"\r\n")
    assert builder.build(crlf) == builder.build(MAXPAT.read_bytes())


def test_build_writes_only_what_it_is_told(tmp_path):
    out = tmp_path / "Dev.amxd"
    run = subprocess.run([sys.executable, str(M4L / "build_amxd.py"), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == AMXD.read_bytes()
    stale = subprocess.run([sys.executable, str(M4L / "build_amxd.py"), "--check",
                            "--out", str(tmp_path / "missing.amxd")], capture_output=True, text=True)
    assert stale.returncode == 1 and "out of date" in stale.stderr


@pytest.mark.parametrize("bad, message", [
    (b"ampf\x04\x00\x00\x00aaaameta\x04\x00\x00\x00\x01\x00\x00\x00", "no ptch chunk"),
    (b"ampf\x04\x00\x00\x00aaaameta\x04\x00\x00\x00\x01\x00\x00\x00ptch\x09\x00\x00\x00{}", "claims 9"),
    (b"ampf\x04\x00\x00\x00aaaameta\x04\x00\x00\x00\x01\x00\x00\x00ptch\x02\x00\x00\x00{}", "NUL"),
    (b"ampf\x04\x00\x00\x00aaaameta\x04\x00\x00\x00\x01\x00\x00\x00ptch\x04\x00\x00\x00mx@c", "frozen"),
    (b"meta\x04\x00\x00\x00\x01\x00\x00\x00ampf\x04\x00\x00\x00aaaaptch\x01\x00\x00\x00\x00", "starts"),
    (b"ampf\x04\x00", "truncated"),
])
def test_parse_rejects_broken_devices(bad, message):
    with pytest.raises(ValueError, match=message):
        builder.parse(bad)


@pytest.mark.parametrize("source, message", [
    (b"[1, 2]", "patcher"),
    (b'{"patcher": {"project": {"amxdtype": 1835887981}}}', "amxdtype"),
    (b"{not json", "Expecting"),
])
def test_build_rejects_bad_sources(source, message):
    with pytest.raises(ValueError, match=message):
        builder.build(source)


def test_build_refuses_a_device_whose_script_is_missing(tmp_path):
    (tmp_path / "BeatGAN.maxpat").write_bytes(MAXPAT.read_bytes())
    run = subprocess.run([sys.executable, str(M4L / "build_amxd.py"),
                          "--source", str(tmp_path / "BeatGAN.maxpat"),
                          "--out", str(tmp_path / "x.amxd")], capture_output=True, text=True)
    assert run.returncode == 1 and "beatgan.js" in run.stderr
    assert not (tmp_path / "x.amxd").exists()


# --------------------------------------------------------------------------------------------
# The patcher uses only real Max 8/9 objects, wired within their inlets and outlets.
# (inlets, outlets) as Max creates them with the arguments the patcher gives; None = depends on
# arguments (computed below). Checked against the Max 8/9 reference and Ableton's maxdevtools.

MAX_OBJECTS: dict[str, tuple[int, int] | None] = {
    # Max for Live
    "live.thisdevice": (1, 3), "live.path": (1, 3), "live.observer": (2, 2),
    "live.object": (2, 1), "live.text": (1, 2), "live.numbox": (1, 2), "live.dial": (1, 2),
    "live.slider": (1, 2), "live.toggle": (1, 1), "live.button": (1, 1), "live.tab": (1, 3),
    "live.menu": (1, 3), "live.comment": (1, 0), "plugin~": (2, 2), "plugout~": (2, 2),
    # Max
    "js": None, "udpsend": (1, 0), "udpreceive": (1, 1), "deferlow": (1, 1), "defer": (1, 1),
    "trigger": None, "t": None, "route": None, "prepend": (1, 1), "append": (1, 1),
    "speedlim": (2, 1), "metro": (2, 1), "loadbang": (1, 1), "message": (2, 1),
    "comment": (1, 0), "led": (1, 1), "panel": (1, 0), "print": (1, 0), "change": (1, 3),
    "sel": None, "select": None, "pack": None, "unpack": None, "gate": (2, 1), "delay": (2, 1),
}


def expected_io(box: dict) -> tuple[int, int]:
    name = class_of(box)
    args = box.get("text", "").split()[1:]
    fixed = MAX_OBJECTS[name]
    if fixed is not None:
        return fixed
    if name in ("t", "trigger"):
        return 1, max(1, len(args))
    if name == "route":
        return 2, max(1, len(args)) + 1
    if name in ("sel", "select"):
        return 2, max(1, len(args)) + 1
    if name in ("pack", "unpack"):
        n = max(2, len(args))
        return (n, 1) if name == "pack" else (1, n)
    if name == "js":
        return 1, box["numoutlets"]   # set by the script's `outlets`, checked against it below
    raise AssertionError(name)


def test_every_object_is_a_real_max_object_with_its_real_inlets_and_outlets():
    for box in boxes().values():
        name = class_of(box)
        assert name in MAX_OBJECTS, f"{name} is not in the list of Max 8/9 objects"
        assert (box["numinlets"], box["numoutlets"]) == expected_io(box), box


def test_patch_cords_connect_existing_inlets_and_outlets():
    by_id = boxes()
    assert len(by_id) == len(patcher()["boxes"]), "box ids are unique"
    for line in patcher()["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert src in by_id and dst in by_id, line
        assert 0 <= outlet < by_id[src]["numoutlets"], line
        assert 0 <= inlet < by_id[dst]["numinlets"], line


def test_parameters_are_declared_once_with_their_names():
    declared = patcher()["parameters"]
    longnames = []
    for bid, box in boxes().items():
        if box.get("parameter_enable"):
            value = box["saved_attribute_attributes"]["valueof"]
            assert declared[bid][0] == value["parameter_longname"] == box["varname"]
            longnames.append(value["parameter_longname"])
            if box["maxclass"] == "live.numbox":
                # Live keeps parameters as 32-bit floats: integers above 2^24 would not round-trip
                assert value["parameter_mmax"] <= 2 ** 24
    assert len(longnames) == len(set(longnames))
    assert {"Generate", "Seed", "Random Seed", "Variation Amount", "Vary", "Morph A", "Morph B",
            "Morph Position", "Morph", "Bars", "Fit Mode"} <= set(longnames)
    tabs = {b["varname"]: b["saved_attribute_attributes"]["valueof"]["parameter_enum"]
            for b in boxes().values() if b["maxclass"] in ("live.tab", "live.menu")}
    assert tabs == {"Bars": ["1", "2", "4"], "Fit Mode": ["beats", "repitch", "stretch"]}


def js_functions() -> set[str]:
    return set(re.findall(r"^function (\w+)\(", JS.read_text(), re.M))


def incoming(target: str) -> list[tuple[str, int]]:
    return [tuple(l["patchline"]["source"]) for l in patcher()["lines"]
            if l["patchline"]["destination"][0] == target]


def test_patch_and_script_agree_on_messages_and_outlets():
    by_id = boxes()
    (js_id,) = [i for i, b in by_id.items() if class_of(b) == "js"]
    assert by_id[js_id]["text"] == "js beatgan.js"
    declared = int(re.search(r"^\s*outlets = (\d+);", JS.read_text(), re.M).group(1))
    assert by_id[js_id]["numoutlets"] == declared
    functions = js_functions()
    selectors = set()
    for src, _ in incoming(js_id):
        box = by_id[src]
        if box["maxclass"] == "message":
            selectors.add(box["text"].split()[0])
        elif class_of(box) == "prepend":
            selectors.add(box["text"].split()[1])
        else:
            assert class_of(box) == "deferlow", f"unexpected input to js: {box}"
    assert selectors <= functions, selectors - functions
    assert {"generate", "variation", "morph", "ready", "tempo", "ping_tick", "seed", "random",
            "amount", "morph_a", "morph_b", "position", "bars_index", "mode_index",
            "take_a", "take_b"} <= selectors
    # every UI update the script emits has a branch in the patch's [route]
    (route,) = [b for b in by_id.values() if class_of(b) == "route" and "lastseed" in b["text"]]
    emitted = set(re.findall(r'io\.ui\(\["(\w+)"', JS.read_text()))
    assert emitted == set(route["text"].split()[1:])


def upstream(target: str) -> set[str]:
    """Boxes whose output can reach `target` without passing through the [js] box."""
    by_id = boxes()
    seen, todo = set(), [target]
    while todo:
        for src, _ in incoming(todo.pop()):
            if src not in seen:
                seen.add(src)
                if class_of(by_id[src]) != "js":
                    todo.append(src)
    return seen


def test_live_api_waits_for_live_thisdevice_and_deferlow():
    by_id = boxes()
    (ready,) = [i for i, b in by_id.items() if b["maxclass"] == "message" and b["text"] == "ready"]
    classes = [class_of(by_id[i]) for i in upstream(ready)]
    assert "live.thisdevice" in classes and "deferlow" in classes
    # the tempo observer is pointed at live_set only after the device is ready
    (obs,) = [i for i, b in by_id.items() if b.get("text") == "live.observer tempo"]
    assert {"live.thisdevice", "deferlow"} <= {class_of(by_id[i]) for i in upstream(obs)}
    # replies reach the script (and so the Live API) through deferlow
    (udpin,) = [i for i, b in by_id.items() if class_of(b) == "udpreceive"]
    assert by_id[udpin]["text"] == "udpreceive 14701"
    for src, _ in incoming([i for i, b in by_id.items() if class_of(b) == "js"][0]):
        if udpin in upstream(src) | {src}:
            assert class_of(by_id[src]) == "deferlow"
    (udpout,) = [b for b in by_id.values() if class_of(b) == "udpsend"]
    assert udpout["text"] == "udpsend 127.0.0.1 14700"


def strip_js_comments_and_strings(src: str) -> str:
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            i = src.index("*/", i) + 2
        elif c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "/" and re.search(r"[(,=:!&|?{};]\s*$", "".join(out[-20:])):
            j = i + 1   # a regex literal
            while src[j] != "/":
                j += 2 if src[j] == "\\" else 1
            out.append("/re/")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def test_device_script_is_es5_for_max_js():
    code = strip_js_comments_and_strings(JS.read_text())
    for pattern, what in [(r"\blet\s", "let"), (r"\bconst\s", "const"), (r"=>", "arrow function"),
                          (r"`", "template string"), (r"\bclass\s", "class"),
                          (r"\.\.\.", "spread"), (r"\bfor\s*\([^)]*\bof\b", "for...of")]:
        assert not re.search(pattern, code), f"beatgan.js uses {what}; Max's [js] is ES5"


# --------------------------------------------------------------------------------------------
# beatgan.js under node with a fake Live

def node() -> str:
    # Not a skip: CI must install nodejs, and a missing node must not pass silently.
    assert NODE, "node is not installed: apt-get install nodejs (v20)"
    return NODE


def device(actions, live=None, rng=None) -> dict:
    scenario = {"live": live or {}, "rng": rng or [], "actions": actions}
    run = subprocess.run([node(), str(HARNESS)], input=json.dumps(scenario),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def pure(name, *args):
    run = subprocess.run([node(), str(HARNESS)], input=json.dumps({"call": name, "args": args}),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["value"]


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "beatgan_loop.wav"
    path.write_bytes(b"RIFF")   # the fake Live only checks that the file exists
    return str(path)


def audio_set(slots, highlighted=None, **track):
    return {"version": [12, 1, 5], "device": "live_set tracks 0 devices 0",
            "tracks": [{"type": "audio", "slots": slots, **track}], "highlighted": highlighted}


def done(path, seed=42, bpm=120.0, bars=1, latency=9.5):
    return ["osc", "/beatgan/done", path, seed, bpm, bars, latency]


def test_requests_carry_seed_tempo_and_bars():
    out = device([["tempo", 128.5], ["random", 0], ["seed", 42], ["bars_index", 2], ["generate"],
                  ["amount", 1.7], ["variation"], ["morph_a", 5], ["morph_b", 9],
                  ["position", 0.25], ["morph"]])
    assert out["osc"] == [["/beatgan/tempo", 128.5], ["/beatgan/generate", 42, 128.5, 4],
                          ["/beatgan/variation", 42, 1, 128.5, 4],
                          ["/beatgan/morph", 5, 9, 0.25, 128.5, 4]]


def test_random_seed_is_picked_by_the_device_and_shown():
    out = device([["random", 1], ["generate"]], rng=[0.5])
    seed = out["osc"][0][1]
    assert seed == 500000 and ["seed", seed] in out["ui"]
    assert out["osc"][0] == ["/beatgan/generate", seed, 0, 1], "no Live tempo yet: bpm 0"
    for r in (0.0, 0.999999999):
        assert 0 <= device([["generate"]], rng=[r])["osc"][0][1] <= 999999


def test_tempo_is_sent_on_change_only():
    out = device([["tempo", 120], ["tempo", 120.0004], ["tempo", 121], ["tempo", 0]])
    assert out["osc"] == [["/beatgan/tempo", 120], ["/beatgan/tempo", 121]]


@pytest.mark.parametrize("index, mode", [(0, "beats"), (1, "repitch"), (2, "stretch"), (7, "stretch")])
def test_fit_mode_menu(index, mode):
    assert device([["mode_index", index]])["osc"] == [["/beatgan/mode", mode]]


@pytest.mark.parametrize("index, bars", [(0, 1), (1, 2), (2, 4), (-3, 1)])
def test_bars_tab(index, bars):
    out = device([["random", 0], ["bars_index", index], ["generate"]])
    assert out["osc"][-1][3] == bars


@pytest.mark.parametrize("slots, highlighted, expected_slot", [
    ([False, False, False], "live_set tracks 0 clip_slots 1", 1),   # the selected, empty slot
    ([False, True, False], "live_set tracks 0 clip_slots 1", 2),    # next empty below it
    ([False, True, True], "live_set tracks 0 clip_slots 1", 0),     # wraps to the top
    ([True, False], None, 1),                                        # nothing selected
    ([True, False], "live_set tracks 3 clip_slots 0", 1),           # selection on another track
])
def test_loop_goes_to_the_selected_or_next_empty_slot(wav, slots, highlighted, expected_slot):
    out = device([["ready"], ["generate"], done(wav)], live=audio_set(slots, highlighted))
    assert out["clips"] == [{"track": 0, "slot": expected_slot, "file": wav}]
    assert out["live_errors"] == [] and out["violations"] == []
    assert out["status"][-1] == f"beatgan_loop.wav > slot {expected_slot + 1}"


def test_full_track_gets_a_new_scene(wav):
    out = device([["ready"], ["generate"], done(wav)], live=audio_set([True, True]))
    assert out["scenes"] == 3
    assert out["clips"] == [{"track": 0, "slot": 2, "file": wav}]
    assert "(new scene)" in out["status"][-1]


def test_device_inside_a_rack_uses_its_track(wav):
    live = audio_set([False])
    live["tracks"].insert(0, {"type": "midi", "slots": [False]})
    live["device"] = "live_set tracks 1 devices 0 chains 1 devices 2"
    out = device([["ready"], ["generate"], done(wav)], live=live)
    assert out["clips"] == [{"track": 1, "slot": 0, "file": wav}]


@pytest.mark.parametrize("live, reason", [
    ({"version": [11, 3, 21]}, "Live 11.3.21 cannot place audio clips"),
    ({"version": [12, 0, 4]}, "needs Live 12.0.5"),
    ({"tracks": [{"type": "midi", "slots": [False]}]}, "MIDI track"),
    ({"tracks": [{"type": "audio", "frozen": True, "slots": [False]}]}, "frozen"),
    ({"tracks": [{"type": "group", "slots": [False]}]}, "group track"),
    ({"returns": 2, "device": "live_set return_tracks 1 devices 0"}, "return track"),
    ({"device": "live_set master_track devices 0"}, "master track"),
])
def test_where_live_cannot_place_the_clip_it_says_why_and_shows_the_path(wav, live, reason):
    scenario = {"version": [12, 1, 5], "tracks": [{"type": "audio", "slots": [False]}], **live}
    out = device([["ready"], ["generate"], done(wav)], live=scenario)
    assert out["clips"] == []
    assert reason in out["status"][-1]
    assert "beatgan_loop.wav is in the watched folder" in out["status"][-1]
    assert ["path", wav] in out["ui"]
    assert out["live_errors"] == [], "the device asked Live for nothing it cannot do"


def test_live_refusing_the_file_is_reported(tmp_path):
    missing = str(tmp_path / "gone.wav")
    out = device([["ready"], ["generate"], done(missing)], live=audio_set([False]))
    assert out["clips"] == []
    assert out["status"][-1].startswith("could not place gone.wav")


def test_no_live_api_before_the_device_is_ready_then_the_queue_drains(wav):
    out = device([["generate"], done(wav)], live=audio_set([False]))
    assert out["clips"] == [] and out["violations"] == []
    out = device([["generate"], done(wav), ["ready"]], live=audio_set([False]))
    assert out["clips"] == [{"track": 0, "slot": 0, "file": wav}]
    assert out["violations"] == []


def test_loops_requested_by_someone_else_are_shown_not_placed(wav):
    out = device([["ready"], done(wav)], live=audio_set([False]))
    assert out["clips"] == [] and "not requested here" in out["status"][-1]
    # one request, two replies: only the first is placed
    out = device([["ready"], ["generate"], done(wav), done(wav + ".2")], live=audio_set([False, False]))
    assert len(out["clips"]) == 1


def test_errors_are_shown_and_close_the_request(wav):
    out = device([["ready"], ["generate"],
                  ["osc", "/beatgan/error", "/beatgan/generate", "bars must be 1, 2 or 4"],
                  done(wav)], live=audio_set([False]))
    assert "daemon error on /beatgan/generate: bars must be 1, 2 or 4" in out["status"]
    assert out["clips"] == [], "the error answered the request; the later loop is someone else's"


def test_status_light_follows_pongs():
    out = device([["tick"], ["osc", "/beatgan/pong"], ["advance", 2000], ["tick"],
                  ["advance", 6000], ["tick"], ["osc", "/beatgan/pong"]])
    assert out["light"] == [0, 1, 0, 1]
    assert out["osc"].count(["/beatgan/ping"]) == 3
    assert any("not answering" in s for s in out["status"])
    assert out["status"][-1] == "daemon connected"


def test_reconnect_resends_mode_parts_and_tempo():
    out = device([["mode_index", 2], ["stems", 1], ["tempo", 99], ["tick"],
                  ["osc", "/beatgan/pong"]])
    assert out["osc"][-4:] == [["/beatgan/mode", "stretch"], ["/beatgan/stems", 1],
                               ["/beatgan/midi", 0], ["/beatgan/tempo", 99]]


def test_take_copies_the_last_seed_into_morph():
    out = device([done("/x.wav", seed=777), ["take_a"], done("/y.wav", seed=888), ["take_b"],
                  ["morph"]])
    assert ["morph_a", 777] in out["ui"] and ["morph_b", 888] in out["ui"]
    assert out["osc"][-1][:3] == ["/beatgan/morph", 777, 888]
    big = device([done("/x.wav", seed=2 ** 31 - 1), ["take_a"]])
    assert "beyond the boxes' range" in big["status"][-1]


@pytest.mark.parametrize("given, posix", [
    ("/Users/me/BeatGAN/loop.wav", "/Users/me/BeatGAN/loop.wav"),
    ("Macintosh HD:/Users/me/loop.wav", "/Users/me/loop.wav"),
    ("C:\\Users\\me\\loop.wav", "C:/Users/me/loop.wav"),
])
def test_paths_are_posix(given, posix):
    assert pure("toPosixPath", given) == posix


@pytest.mark.parametrize("version, ok", [([12, 0, 5], True), ([12, 1, 0], True), ([13, 0, 0], True),
                                         ([12, 0, 4], False), ([11, 3, 35], False)])
def test_version_gate(version, ok):
    assert pure("versionAtLeast", version, [12, 0, 5]) is ok


def test_extract_round_trips_a_device_saved_in_max(tmp_path):
    saved = tmp_path / "Saved.amxd"
    saved.write_bytes(AMXD.read_bytes())
    source = tmp_path / "BeatGAN.maxpat"
    run = subprocess.run([sys.executable, str(M4L / "build_amxd.py"), "--extract", str(saved),
                          "--source", str(source)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert builder.build(source.read_bytes()) == AMXD.read_bytes()


# --------------------------------------------------------------------------------------------
# Stems and MIDI: the toggles, "Drop MIDI" (create_midi_clip + add_new_notes / set_notes) and
# "Drop Stems" (one audio track per stem) against the fake Live

def test_stems_and_midi_toggles_tell_the_daemon():
    out = device([["stems", 1], ["midi", 1], ["midi", 0]])
    assert out["osc"] == [["/beatgan/stems", 1], ["/beatgan/midi", 1], ["/beatgan/midi", 0]]


def hand_pattern():
    """A two-voice pattern (kick on 0/8, hats on every other step, one pushed late)."""
    from beatgan.bridge.pattern import Hit, Pattern, PatternVoice
    kick = PatternVoice(0, "kick", 36, 0.0, (Hit(0, 0.0, 1.0), Hit(8, 0.0, 0.8)))
    hats = PatternVoice(1, "hat", 42, -6.0, tuple(Hit(s, 0.2 if s == 6 else 0.0, 0.5)
                                                   for s in range(0, 16, 2)))
    return Pattern(16, 4, 0.1, (kick, hats))


@pytest.fixture
def loop_files(tmp_path):
    """A loop, its .mid (written by the daemon's own writer) and two stems, as files."""
    from beatgan.bridge.midi_file import pattern_midi
    base = tmp_path / "beatgan_120bpm_s42_2bar_x"
    for suffix in (".wav", "_stem0-kick.wav", "_stem1-hat.wav", "_stem-floor.wav"):
        Path(f"{base}{suffix}").write_bytes(b"RIFF")
    Path(f"{base}.mid").write_bytes(pattern_midi(hand_pattern(), 120.0, bars=2))
    return {"loop": f"{base}.wav", "midi": f"{base}.mid",
            "stems": [f"{base}_stem0-kick.wav", f"{base}_stem1-hat.wav", f"{base}_stem-floor.wav"]}


def done_with_parts(files, midi=True, stems=True):
    return ["osc", "/beatgan/done", files["loop"], 42, 120.0, 2, 9.5,
            files["midi"] if midi else "", *(files["stems"] if stems else [])]


def expected_notes(bars=2):
    from beatgan.bridge.midi_file import note_events
    return [{"pitch": note, "start_time": tick / 480, "duration": 60 / 480, "velocity": vel}
            for tick, note, vel in note_events(hand_pattern(), bars)]


@pytest.mark.parametrize("version", [[12, 1, 5], [10, 1, 30]])
def test_drop_midi_makes_a_clip_of_the_patterns_notes(loop_files, version):
    live = audio_set([False, False])
    live["version"] = version
    out = device([["ready"], ["generate"], done_with_parts(loop_files), ["drop_midi"]], live=live)
    assert out["live_errors"] == [] and out["violations"] == []
    (clip,) = out["midi_clips"]
    assert (clip["track"], clip["slot"], clip["length"]) == (1, 0, 8.0)   # 2 bars of 4 beats
    assert out["tracks"][1] == {"type": "midi", "name": "BeatGAN MIDI"}
    key = lambda n: (n["start_time"], n["pitch"])
    assert sorted(clip["notes"], key=key) == sorted(expected_notes(), key=key)
    assert clip["name"] == "beatgan_120bpm_s42_2bar_x"
    assert "(20 notes)" in out["status"][-1]                          # 2 x (2 kicks + 8 hats)


def test_drop_midi_uses_the_selected_or_the_neighbouring_midi_track(loop_files):
    live = audio_set([False])
    live["tracks"] += [{"type": "midi", "slots": [True]}, {"type": "midi", "slots": [False]}]
    out = device([["ready"], ["generate"], done_with_parts(loop_files), ["drop_midi"]], live=live)
    (clip,) = out["midi_clips"]
    assert (clip["track"], clip["slot"]) == (1, 1)       # the MIDI track on the right, a new scene
    assert len(out["tracks"]) == 3
    live["selected_track"] = "live_set tracks 2"
    out = device([["ready"], ["generate"], done_with_parts(loop_files), ["drop_midi"]], live=live)
    assert [(c["track"], c["slot"]) for c in out["midi_clips"]] == [(2, 0)]


def test_drop_stems_makes_one_named_audio_track_per_stem(loop_files):
    out = device([["ready"], ["generate"], done_with_parts(loop_files), ["drop_stems"]],
                 live=audio_set([False, False], "live_set tracks 0 clip_slots 1"))
    assert out["live_errors"] == [] and out["violations"] == []
    assert [t["name"] for t in out["tracks"][1:]] == ["kick", "hat", "floor"]
    stem_clips = [c for c in out["clips"] if c["track"] > 0]
    assert stem_clips == [{"track": 1 + i, "slot": 1, "file": f}
                          for i, f in enumerate(loop_files["stems"])]
    assert out["status"][-1] == "3 stems > tracks 2-4, slot 2"


def test_drop_without_parts_says_what_to_turn_on(loop_files):
    out = device([["ready"], ["generate"], done_with_parts(loop_files, midi=False, stems=False),
                  ["drop_midi"], ["drop_stems"]], live=audio_set([False]))
    assert out["midi_clips"] == [] and len(out["tracks"]) == 1
    assert "turn MIDI on" in out["status"][-2] and "turn Stems on" in out["status"][-1]
    old = device([["ready"], ["generate"], done_with_parts(loop_files), ["drop_stems"]],
                 live={**audio_set([False]), "version": [12, 0, 4]})
    assert "needs Live 12.0.5" in old["status"][-1] and old["live_errors"] == []


def test_parse_midi_reads_running_status_and_other_files(tmp_path):
    import mido
    mid = mido.MidiFile(type=1, ticks_per_beat=96)
    for notes in ([(36, 0, 100), (38, 48, 90)], [(42, 24, 60)]):
        track = mido.MidiTrack()
        now = 0
        for note, tick, vel in notes:
            track.append(mido.Message("note_on", channel=9, note=note, velocity=vel, time=tick - now))
            track.append(mido.Message("note_on", channel=9, note=note, velocity=0, time=10))
            now = tick + 10
        track.append(mido.MetaMessage("end_of_track", time=384 - now))
        mid.tracks.append(track)
    path = tmp_path / "other.mid"
    mid.save(path)
    parsed = pure("parseMidi", list(path.read_bytes()))
    assert parsed["lengthBeats"] == 4.0
    assert [(n["pitch"], n["start_time"], n["velocity"]) for n in parsed["notes"]] == [
        (36, 0.0, 100), (42, 0.25, 60), (38, 0.5, 90)]
    assert all(abs(n["duration"] - 10 / 96) < 1e-12 for n in parsed["notes"])


# --------------------------------------------------------------------------------------------
# End to end: the device's own messages to a real daemon, its reply back into the device.

def test_device_round_trip_with_the_real_daemon(tiny_model, tmp_path):
    from _daw_daemon import running_daemon
    import soundfile

    out_dir = tmp_path / "BeatGAN"
    with running_daemon(tiny_model, out_dir, tmp_path) as daemon:
        sent = device([["tick"], ["tempo", 126], ["mode_index", 0], ["random", 0], ["seed", 4242],
                       ["bars_index", 1], ["generate"], ["amount", 0.5], ["variation"],
                       ["morph_a", 1], ["morph_b", 2], ["position", 0.5], ["morph"]])["osc"]
        for msg in sent:
            daemon.send(*msg)
        replies = [daemon.receive("/beatgan/done") for _ in range(3)]
        errors = [r for r in daemon.drain() if r[0] == "/beatgan/error"]
        assert errors == [], errors
        path, seed, bpm, bars, latency = replies[0][1]
        assert (seed, bpm, bars) == (4242, 126.0, 2)
        info = soundfile.info(path)
        assert abs(info.duration - 2 * 4 * 60 / 126) < 0.01, "two bars at Live's tempo"
        # the reply goes back into the device, which puts the file into Live
        placed = device([["ready"], ["random", 0], ["generate"], ["osc", "/beatgan/done", *replies[0][1]]],
                        live=audio_set([False, False]))
        assert placed["clips"] == [{"track": 0, "slot": 0, "file": path}]
        assert placed["live_errors"] == []
        assert len({r[1][0] for r in replies}) == 3, "every loop is a new file (Live references it)"


def test_device_drops_a_drum_machines_midi_and_stems_from_the_real_daemon(tmp_path_factory,
                                                                           tmp_path):
    """A drum-machine daemon asked by the device's own messages (stems and MIDI on): the reply
    goes back into the device, which drops the .mid as a MIDI clip and the stems as tracks."""
    import mido
    from _daw_daemon import running_daemon
    from dm_support import trained_drum_machine

    model = trained_drum_machine(tmp_path_factory)
    with running_daemon(model, tmp_path / "BeatGAN", tmp_path) as daemon:
        sent = device([["stems", 1], ["midi", 1], ["tempo", 97.3], ["random", 0], ["seed", 7],
                       ["bars_index", 1], ["generate"]])["osc"]
        for msg in sent:
            daemon.send(*msg)
        _, args = daemon.receive("/beatgan/done")
    path, seed, bpm, bars, latency, midi, *stems = args
    assert (seed, bars) == (7, 2) and midi.endswith(".mid") and len(stems) >= 2
    out = device([["ready"], ["random", 0], ["generate"], ["osc", "/beatgan/done", *args],
                  ["drop_midi"], ["drop_stems"]], live=audio_set([False, False]))
    assert out["live_errors"] == [] and out["violations"] == []
    (clip,) = out["midi_clips"]
    assert clip["length"] == 8.0                                    # 2 bars of 4 beats
    now, want = 0, []
    for m in mido.MidiFile(midi).tracks[0]:
        now += m.time
        if m.type == "note_on" and m.velocity > 0:
            want.append((now / 480, m.note, m.velocity))
    got = sorted((n["start_time"], n["pitch"], n["velocity"]) for n in clip["notes"])
    assert got == sorted(want)
    names = [t["name"] for t in out["tracks"]]                     # stems right of the device,
    assert names[len(stems)] == "floor" and names[-1] == "BeatGAN MIDI"   # then the MIDI track
    assert [c["file"] for c in out["clips"]][1:] == stems          # one stem per new track
