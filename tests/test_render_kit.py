"""render-kit: Hydrogen kit parsing, role mapping, the EDM sequencer, mixing, determinism, the CLI.

Needs Debian's hydrogen-drumkits + hydrogen-data for the tests on the installed kits.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import wavinfo

from beatgan.bridge.cli import main as cli_main
from beatgan.training import kit as kitmod
from beatgan.training import patterns
from beatgan.generator.musical_time import frames
from beatgan.training.render_kit import RenderConfig, render_folder, render_loop

SR = 44100


def _oneshot(path: Path, freq: float, seconds: float = 0.2, sr: int = SR, channels: int = 1,
             subtype: str = "PCM_16") -> Path:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.8 * np.sin(2 * np.pi * freq * t) * np.exp(-t * 20)
    data = np.repeat(x[:, None], channels, axis=1)
    sf.write(str(path), data, sr, subtype=subtype)
    return path


OLD_XML = """<drumkit_info>
    <name>OldKit</name>
    <author>Someone</author>
    <license>CC0 test licence</license>
    <instrumentList>
        <instrument><id>0</id><filename>k.wav</filename><name>Kick 1</name><volume>0.9</volume></instrument>
        <instrument><id>1</id><filename>s.wav</filename><name>Snare</name><volume>1</volume></instrument>
        <instrument><id>2</id><filename>h.wav</filename><name>Closed HH 1</name><volume>1</volume></instrument>
        <instrument><id>3</id><filename>missing.wav</filename><name>Open HH</name><volume>1</volume></instrument>
        <instrument><id>4</id><name>Muted Clap</name><isMuted>true</isMuted><filename>s.wav</filename></instrument>
    </instrumentList>
</drumkit_info>
"""

NEW_XML = """<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>New Kit Title</name>
 <license>GPL</license>
 <instrumentList>
  <instrument>
   <id>0</id><name>Kick Long</name><volume>1</volume>
   <instrumentComponent><component_id>0</component_id>
    <layer><filename>k_soft.wav</filename><min>0</min><max>0.5</max><gain>1.5</gain></layer>
    <layer><filename>k_hard.flac</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
   </instrumentComponent>
  </instrument>
  <instrument><id>1</id><name>Clap</name>
   <instrumentComponent><layer><filename>c.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrumentComponent>
  </instrument>
  <instrument><id>2</id><name>Open Hat</name>
   <instrumentComponent><layer><filename>o.aiff</filename><min>0</min><max>1</max><gain>1</gain></layer></instrumentComponent>
  </instrument>
  <instrument><id>3</id><name>23</name>
   <instrumentComponent><layer><filename>c.wav</filename></layer></instrumentComponent>
  </instrument>
 </instrumentList>
</drumkit_info>
"""


@pytest.fixture()
def old_kit(tmp_path) -> Path:
    d = tmp_path / "OldKit"
    d.mkdir()
    _oneshot(d / "k.wav", 60)
    _oneshot(d / "s.wav", 200, sr=48000)
    _oneshot(d / "h.wav", 5000, channels=2)
    (d / "drumkit.xml").write_text(OLD_XML)
    return d


@pytest.fixture()
def new_kit(tmp_path) -> Path:
    d = tmp_path / "NewKit"
    d.mkdir()
    _oneshot(d / "k_soft.wav", 55)
    sf.write(str(d / "k_hard.flac"), 0.9 * np.sin(np.arange(4410) * 0.01), SR)
    _oneshot(d / "c.wav", 1200)
    sf.write(str(d / "o.aiff"), 0.5 * np.random.default_rng(0).standard_normal(8820), SR)
    (d / "drumkit.xml").write_text(NEW_XML)
    return d


@pytest.mark.parametrize("name, role", [
    ("Kick Long", "kick"), ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"), ("bd_01", "kick"),
    ("Hi-Hat Open (Paiste Alpha Metal edge 14\")", "open_hat"), ("Hat Op Dirty", "open_hat"),
    ("Sabian Hat Semi-Open", "open_hat"), ("Closed HH 2", "closed_hat"), ("Pedal Hat", "closed_hat"),
    ("VariBreaks Hat 1 Cl", "closed_hat"), ("Hand Clap", "clap"), ("Pearl Snare Rimshot", "snare"),
    ("Snare Jazz", "snare"), ("Floor Tom", "tom"), ("Tom Hi", "tom"), ("Crash", "cymbal"),
    ("Ride Bell", "cymbal"), ("Cowbell", "perc"), ("Rim Click (Pearl)", "perc"), ("Conga 1", "perc"),
    ("23", None), ("", None), ("Sample: beats_01-39.flac", None), ("f#4 - ", None), ("WaterglassHi", None),
])
def test_classify_role(name, role):
    assert kitmod.classify_role(name) == role


def test_parse_old_format_kit(old_kit):
    kit = kitmod.parse_drumkit(old_kit / "drumkit.xml")
    assert kit.name == "OldKit" and kit.licence == "CC0 test licence" and kit.licence_source == "drumkit.xml"
    roles = {i.name: i.role for i in kit.instruments}
    # the instrument whose sample is missing and the muted one are dropped
    assert roles == {"Kick 1": "kick", "Snare": "snare", "Closed HH 1": "closed_hat"}
    kick = kit.instruments[0]
    assert kick.volume == pytest.approx(0.9) and kick.layers[0].path == old_kit / "k.wav"
    assert kit.missing_roles() == []


def test_parse_new_format_kit_layers_and_licence_override(new_kit):
    kit = kitmod.parse_drumkit(new_kit / "drumkit.xml", licences={"NewKit": "GPL-2+"})
    assert kit.name == "NewKit" and kit.title == "New Kit Title"
    assert kit.licence == "GPL-2+" and kit.licence_source == "Debian copyright file"
    kick = kit.roles()["kick"][0]
    assert [(la.path.name, la.min_velocity, la.max_velocity, la.gain) for la in kick.layers] == [
        ("k_soft.wav", 0.0, 0.5, 1.5), ("k_hard.flac", 0.5, 1.0, 1.0)]
    assert kit.missing_roles() == []  # open hat counts as the hat
    assert "23" not in [i.name for insts in kit.roles().values() for i in insts]


def test_load_kit_resamples_normalises_and_picks_layers_by_velocity(new_kit, old_kit):
    loaded = kitmod.load_kit(kitmod.parse_drumkit(new_kit / "drumkit.xml"), SR)
    voice = loaded.voices["kick"][0]
    for layer in voice.layers:
        assert layer.dtype == np.float32 and layer.shape[0] == 2
        assert np.max(np.abs(layer)) == pytest.approx(1.0)
    soft, g_soft = voice.layer_for(0.2)
    hard, g_hard = voice.layer_for(0.9)
    assert g_soft == pytest.approx(1.5) and g_hard == pytest.approx(1.0)
    assert soft.shape[1] != hard.shape[1]
    # a 48 kHz one-shot of 0.2 s comes out at 44.1 kHz (tail trimmed, so at most 0.2 s)
    snare = kitmod.load_kit(kitmod.parse_drumkit(old_kit / "drumkit.xml"), SR).voices["snare"][0].layers[0]
    assert snare.shape[1] <= int(0.2 * SR) + 2


def test_unreadable_oneshot_is_listed_not_fatal(old_kit):
    (old_kit / "h.wav").write_bytes(b"RIFF....WAVEjunk")
    loaded = kitmod.load_kit(kitmod.parse_drumkit(old_kit / "drumkit.xml"), SR)
    assert "kick" in loaded.voices and "closed_hat" not in loaded.voices
    assert len(loaded.unreadable) == 1 and "h.wav" in loaded.unreadable[0]


def test_bad_xml_names_the_file(tmp_path):
    (tmp_path / "drumkit.xml").write_text("<drumkit_info><name>x</name")
    with pytest.raises(ValueError, match="drumkit.xml"):
        kitmod.parse_drumkit(tmp_path / "drumkit.xml")


def test_folder_of_oneshots_is_a_kit(tmp_path):
    d = tmp_path / "my_oneshots"
    d.mkdir()
    for name, f in (("909 Kick", 50), ("Clap_01", 900), ("hihat closed", 6000), ("open hat", 5000), ("fx", 300)):
        _oneshot(d / f"{name}.wav", f)
    (d / "LICENSE").write_text("CC-BY-4.0 Me\nmore text\n")
    kit = kitmod.folder_kit(d)
    assert kit.licence == "CC-BY-4.0 Me" and kit.licence_source == "LICENSE"
    assert {r: [i.name for i in v] for r, v in kit.roles().items()} == {
        "kick": ["909 Kick"], "clap": ["Clap_01"], "closed_hat": ["hihat closed"], "open_hat": ["open hat"]}


# ---- the sequencer

@pytest.mark.parametrize("seed", range(6))
def test_grooves_have_the_genre_skeleton(seed):
    rng = np.random.default_rng(seed)
    for style in ("house", "techno"):
        g = patterns.groove(style, rng)
        # four on the floor (techno may add a softer pickup kick)
        assert list(np.nonzero(g["kick"] >= 0.9)[0]) == [0, 4, 8, 12], style
        hats = sum(g.get(r, np.zeros(16)) for r in ("closed_hat", "open_hat"))
        assert all(hats[[2, 6, 10, 14]] > 0), style  # hats on the off-beats
    g = patterns.groove("house", rng)
    backbeat = g.get("clap", np.zeros(16)) + g.get("snare", np.zeros(16))
    assert list(np.nonzero(backbeat)[0]) == [4, 12]  # clap/snare on 2 and 4
    g = patterns.groove("breaks", rng)
    assert g["snare"][4] > 0.8 and g["snare"][12] > 0.8 and g["kick"][0] > 0
    g = patterns.groove("electro", rng)
    assert g["kick"][0] > 0 and list(np.nonzero(g["kick"])[0]) != [0, 4, 8, 12]


def test_sequence_swing_humanise_and_first_bar():
    rng = np.random.default_rng(3)
    p = patterns.sequence("house", rng, bars=4, tempo_bpm=125)
    assert p.length_beats == 16
    assert np.all(np.diff(p.time_beats) >= 0)
    assert np.all((p.velocity > 0) & (p.velocity <= 1))
    kicks = p.time_beats[np.array(p.roles) == "kick"]
    assert len(kicks) == 16  # four per bar, every bar
    # humanised: near the grid, not on it
    np.testing.assert_allclose(kicks, np.arange(16), atol=0.02)
    with pytest.raises(ValueError, match="unknown style"):
        patterns.sequence("polka", rng)


def _toy_loaded(sr=SR):
    def voice(role, n=2000):
        layer = np.zeros((2, n), np.float32)
        layer[:, 0] = 1.0
        layer[:, 1:] = 0.1
        return kitmod.Voice(role, role, [layer], np.array([[0, 1]], np.float32), np.ones(1, np.float32), sr)
    kit = kitmod.Kit("toy", Path("."), "CC0", "test")
    return kitmod.LoadedKit(kit, {"kick": [voice("kick")], "clap": [voice("clap")]})


def test_render_loop_places_hits_on_the_sample_and_wraps_tails():
    tempo = 125.0
    pattern = patterns.Pattern("house", 1, 4, ("kick", "snare", "kick"),
                               np.array([1.0, 2.0, 3.999]), np.array([1.0, 0.5, 1.0], np.float32), 0.0, 0.0)
    out, info = render_loop(_toy_loaded(), pattern, tempo, np.random.default_rng(0), SR, bus="none")
    n = frames(4, tempo, SR)
    assert out.shape == (2, n) and n == 84672
    beat = 60 / tempo * SR  # 21168 samples
    nz = np.nonzero(out[0])[0]
    starts = nz[np.r_[True, np.diff(nz) > 1]]
    last = int(round(3.999 * beat))
    # hits start exactly on their sample; the snare falls back to the kit's clap
    assert list(starts) == [0, int(beat), int(2 * beat), last]
    assert info["instruments"]["snare"] == "clap"
    # the last kick's tail (2000 samples) wraps to the loop start
    assert np.all(out[0, : 2000 - (n - last)] != 0) and out[0, 2000 - (n - last) + 5] == 0
    assert np.max(np.abs(out)) == pytest.approx(10 ** (-1 / 20), rel=1e-4)  # -1 dBFS peak


# ---- the installed Debian kits (hydrogen-drumkits + hydrogen-data)

def test_debian_kits_and_licences():
    names = [p.name for p in kitmod.list_hydrogen_kits()]
    for k in ("TR808EmulationKit", "HardElectro1", "ElectricEmpireKit", "Audiophob", "circAfrique v4"):
        assert k in names
    lic = kitmod.debian_licences(kit_names=names)
    assert lic["HardElectro1"] == "GPL-2+" and lic["Audiophob"] == "CC0"
    assert lic["circAfrique v4"] == "CC-BY-SA-3.0" and lic["Gimme A Hand 1.0"] == "GPL-2"
    assert lic["TR808EmulationKit"] == "GPL-2+"  # hydrogen-data's Files: * stanza
    assert set(lic) == set(names)  # every installed kit has a licence on record
    kits = kitmod.find_kits(["all"])
    missing = {k.name: k.missing_roles() for k in kits if k.missing_roles()}
    assert set(missing) == {"Gimme A Hand 1.0", "circAfrique v4"}  # no kick: hand percussion / djembes
    with pytest.raises(ValueError, match="unknown kit"):
        kitmod.find_kits(["NoSuchKit"])


def _render(out, seed, loops=3, kits=("TR808EmulationKit", "HardElectro1")):
    return render_folder(out, kitmod.find_kits(list(kits)), RenderConfig(loops=loops, seed=seed))


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.wav"))}


def test_render_is_deterministic_for_a_seed(tmp_path):
    m1 = _render(tmp_path / "a", seed=7)
    m2 = _render(tmp_path / "b", seed=7, loops=2)
    m3 = _render(tmp_path / "c", seed=8)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert len(a) == 3 and {k: a[k] for k in b} == b  # loop i does not depend on how many you render
    assert m1["loops"][:2] == m2["loops"]
    assert a != c and m1["loops"] != m3["loops"]


def test_rendered_loops_are_44k1_stereo_24bit_4_bars_named_with_tempo(tmp_path):
    manifest = _render(tmp_path, seed=1, loops=4, kits=("ElectricEmpireKit", "Audiophob"))
    assert [lp["style"] for lp in manifest["loops"]] == ["house", "techno", "breaks", "electro"]
    assert {k["name"]: k["licence"] for k in manifest["kits"]} == {"ElectricEmpireKit": "GPL-2+", "Audiophob": "CC0"}
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    for lp in manifest["loops"]:
        path = tmp_path / lp["file"]
        assert f"_{lp['tempo_bpm']:g}bpm.wav" in lp["file"] and lp["tempo_bpm"] in (124.0, 125.0)
        assert lp["licence"] in ("GPL-2+", "CC0") and lp["kit"] in lp["file"]
        fmt = wavinfo.WavInfoReader(str(path)).fmt  # an independent WAV reader
        assert (fmt.sample_rate, fmt.channel_count, fmt.bits_per_sample) == (44100, 2, 24)
        x, sr = sf.read(str(path), always_2d=True)
        assert x.shape == (frames(16, lp["tempo_bpm"], SR), 2)
        assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-1.0, abs=0.01)
        assert lp["instruments"]["kick"]


def test_kits_without_a_kick_are_left_out(tmp_path):
    manifest = render_folder(tmp_path, kitmod.find_kits(["Gimme A Hand 1.0", "TR808EmulationKit"]),
                             RenderConfig(loops=1, seed=0))
    assert manifest["kits_left_out"] == [{"kit": "Gimme A Hand 1.0", "reason": "no kick instrument"}]
    with pytest.raises(ValueError, match="no usable kit"):
        render_folder(tmp_path / "x", kitmod.find_kits(["circAfrique v4"]), RenderConfig(loops=1))


def test_cli_render_kit_with_a_folder_kit(tmp_path, capsys):
    d = tmp_path / "shots"
    d.mkdir()
    for name, f in (("kick", 50), ("snare", 300), ("closed hat", 6000)):
        _oneshot(d / f"{name}.wav", f)
    rc = cli_main(["render-kit", "--out", str(tmp_path / "out"), "--loops", "2", "--kit-dir", str(d),
                   "--licence", "CC0", "--styles", "techno", "--tempos", "125", "--bars", "1", "--bus", "glue"])
    assert rc == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [lp["file"] for lp in manifest["loops"]] == ["0000_techno_shots_125bpm.wav", "0001_techno_shots_125bpm.wav"]
    assert manifest["kits"][0]["licence"] == "CC0" and manifest["loops"][0]["bus"] == "glue"
    assert "rendered 2 loops" in capsys.readouterr().out
    assert cli_main(["render-kit", "--out", str(tmp_path / "o2"), "--kits", "Nope"]) == 1
    assert cli_main(["render-kit", "--out", str(tmp_path / "o3"), "--tempos", "fast"]) == 1
    assert cli_main(["render-kit", "--list-kits", "--kits", "HardElectro1"]) == 0
    assert "HardElectro1  [GPL-2+]  usable" in capsys.readouterr().out


def test_a_folder_with_audio_is_refused_unless_overwriting_our_own_loops(tmp_path):
    kits = kitmod.find_kits(["TR808EmulationKit"])
    render_folder(tmp_path / "out", kits, RenderConfig(loops=3, seed=0))
    with pytest.raises(ValueError, match="--overwrite"):
        render_folder(tmp_path / "out", kits, RenderConfig(loops=1, seed=0))
    render_folder(tmp_path / "out", kits, RenderConfig(loops=1, seed=0), overwrite=True)
    assert len(list((tmp_path / "out").glob("*.wav"))) == 1  # the 2 stale loops are gone
    _oneshot(tmp_path / "out" / "mine.wav", 100)
    with pytest.raises(ValueError, match="did not make, e.g. mine.wav"):
        render_folder(tmp_path / "out", kits, RenderConfig(loops=1, seed=0), overwrite=True)
    assert (tmp_path / "out" / "mine.wav").is_file()
