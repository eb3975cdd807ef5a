"""Drum kits for `beatgan render-kit`: parse Hydrogen `drumkit.xml`, map instruments to roles, load one-shots.

Two kinds of kit:
- a Hydrogen drumkit folder (`drumkit.xml` next to its samples; old kits have no XML namespace and
  keep `<filename>` directly in `<instrument>`, newer ones nest `<layer>`s, some in
  `<instrumentComponent>`);
- any folder of one-shots (WAV/AIFF/FLAC), one instrument per file, role from the file name.

Audio is float32 `(channels, samples)` and always travels with its sample rate.
"""
from __future__ import annotations

import fnmatch
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DRUMKITS_ROOT = Path("/usr/share/hydrogen/data/drumkits")
DEBIAN_COPYRIGHT = (Path("/usr/share/doc/hydrogen-drumkits/copyright"),
                    Path("/usr/share/doc/hydrogen-data/copyright"))
AUDIO_EXTENSIONS = (".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc")

# Kits whose sounds suit EDM; `render-kit` uses these unless you pass --kits.
# The acoustic ones are there for breaks, the way real break loops are sampled kits.
DEFAULT_KITS = ("TR808EmulationKit", "HardElectro1", "ElectricEmpireKit", "VariBreaks",
                "Audiophob", "GMRockKit")

ROLES = ("kick", "snare", "clap", "closed_hat", "open_hat", "perc", "tom", "cymbal")

# First match wins, so the order matters: "hat open" before "hat", "snare rimshot" is a snare,
# "side stick"/"rim" are percussion. Matched against the lower-cased instrument or file name.
_ROLE_RULES: tuple[tuple[str, str], ...] = (
    ("kick", r"kick|bass ?drum|\bbd\b|^bd[_ \d]|_bd_|\bbd\d"),
    ("open_hat", r"(hat|hh|hihat).*(op|open)|(open|op).*(hat|hh)|\bho[_ \d]|\bohh?\b|ohh"),
    ("closed_hat", r"(hat|hh|hihat)|\bhh[_ \d]|chh|shaker|maraca|tambourine"),
    ("clap", r"clap|snap"),
    ("snare", r"snare|\bsd[_ \d]|\bsn\b|_sn_"),
    ("tom", r"\btom|floortom|tom\d|\bft[_ \d]|\bt[12]_"),
    ("cymbal", r"crash|ride|splash|china|cymbal|\bcc[_ \d]|\brc[_ \d]|\brd[_ \d]|\bcy\b"),
    ("perc", r"stick|rim|cowbell|bell|clave|conga|bongo|agogo|woodblock|cajon|click|djembe"
             r"|drum|zap|whistle|\bcb[_ \d]|\bmc_|\brs[_ \d]|\bsr[_ \d]|perc"),
)


def classify_role(name: str) -> str | None:
    """The role of an instrument from its name ("Kick Long" -> "kick"), or None if unknown."""
    text = name.lower().strip()
    if not text or text.isdigit() or text.startswith("sample:"):
        return None
    # Hydrogen names like "c3 - bass drum 1": drop the note prefix.
    text = re.sub(r"^[a-g]#?\d\s*-\s*", "", text)
    if not text:
        return None
    for role, pattern in _ROLE_RULES:
        if re.search(pattern, text):
            return role
    return None


@dataclass(frozen=True)
class Layer:
    path: Path
    min_velocity: float = 0.0  # velocity range this layer plays, 0..1
    max_velocity: float = 1.0
    gain: float = 1.0          # linear


@dataclass(frozen=True)
class Instrument:
    name: str
    role: str | None
    layers: tuple[Layer, ...]
    volume: float = 1.0        # linear


@dataclass(frozen=True)
class Kit:
    name: str                  # the kit folder's name: unique, what --kits takes
    path: Path                 # the kit folder
    licence: str               # as the distributor states it (Debian copyright), else the kit's own text
    licence_source: str        # where `licence` came from
    author: str = ""
    instruments: tuple[Instrument, ...] = ()
    title: str = ""            # the kit's own name in drumkit.xml

    def roles(self) -> dict[str, list[Instrument]]:
        out: dict[str, list[Instrument]] = {}
        for inst in self.instruments:
            if inst.role is not None and inst.layers:
                out.setdefault(inst.role, []).append(inst)
        return out

    def missing_roles(self) -> list[str]:
        """Roles a kit needs for the EDM patterns: a kick, a backbeat, something hat-like."""
        roles = self.roles()
        missing = []
        if "kick" not in roles:
            missing.append("kick")
        if "snare" not in roles and "clap" not in roles:
            missing.append("snare or clap")
        if not any(r in roles for r in ("closed_hat", "open_hat", "cymbal")):
            missing.append("hat")
        return missing

    def as_manifest(self) -> dict:
        return {"name": self.name, "title": self.title, "path": str(self.path), "author": self.author,
                "licence": self.licence, "licence_source": self.licence_source,
                "roles": {r: [i.name for i in insts] for r, insts in sorted(self.roles().items())}}


# ---------------------------------------------------------------------------------------------
# Hydrogen drumkit.xml

def _strip_namespaces(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _float(el: ET.Element, tag: str, default: float) -> float:
    text = el.findtext(tag)
    try:
        return float(text) if text is not None and text.strip() else default
    except ValueError:
        return default


def parse_drumkit(xml_path: str | Path, licences: dict[str, str] | None = None) -> Kit:
    """Parse a Hydrogen drumkit.xml (any version) into a Kit; sample paths are resolved, not loaded.

    `licences` maps kit names to the distributor's licence (see `debian_licences`); a kit not in it
    keeps the licence text of its drumkit.xml.
    """
    xml_path = Path(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ValueError(f"{xml_path}: not a readable drumkit.xml ({e})") from e
    _strip_namespaces(root)
    if root.tag != "drumkit_info":
        raise ValueError(f"{xml_path}: root element is <{root.tag}>, expected <drumkit_info>")
    folder = xml_path.parent
    title = (root.findtext("name") or folder.name).strip()
    instruments = []
    for inst in root.iter("instrument"):
        inst_name = (inst.findtext("name") or "").strip()
        layers = []
        # Old kits: <filename> directly in <instrument>; newer: <layer>s, maybe in components.
        direct = inst.findtext("filename")
        if direct and direct.strip():
            layers.append(Layer(folder / direct.strip()))
        for layer in inst.iter("layer"):
            fname = (layer.findtext("filename") or "").strip()
            if not fname:
                continue
            layers.append(Layer(folder / fname, _float(layer, "min", 0.0), _float(layer, "max", 1.0),
                                _float(layer, "gain", 1.0)))
        layers = [la for la in layers if la.path.is_file()]
        muted = (inst.findtext("isMuted") or "false").strip() == "true"
        if muted or not layers:
            continue
        role = classify_role(inst_name) or classify_role(layers[0].path.stem)
        instruments.append(Instrument(inst_name, role, tuple(layers), _float(inst, "volume", 1.0)))
    xml_licence = (root.findtext("license") or "").strip()
    lic = (licences or {}).get(folder.name)
    if lic:
        licence, source = lic, "Debian copyright file"
    elif xml_licence:
        licence, source = xml_licence, "drumkit.xml"
    else:
        licence, source = "unknown", "none found"
    return Kit(folder.name, folder, licence, source, (root.findtext("author") or "").strip(),
               tuple(instruments), title)


def debian_licences(paths=DEBIAN_COPYRIGHT, kit_names: list[str] | None = None) -> dict[str, str]:
    """Kit folder name -> licence, from Debian's machine-readable copyright files.

    hydrogen-drumkits lists each kit archive (`drumkits/Gimme?A?Hand?1.0.h2drumkit`); kits shipped
    in hydrogen-data (TR808EmulationKit, GMRockKit) fall under that package's `Files: *` stanza.
    """
    out: dict[str, str] = {}
    kit_names = list(kit_names or [])
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # package not installed: the kits' own drumkit.xml licences are used instead
        stanzas = text.split("\n\n")
        default = None
        for stanza in stanzas:
            m_files = re.search(r"^Files:(.*?)(?=^\S)", stanza + "\nX", re.S | re.M)
            m_lic = re.search(r"^License:\s*(.+)$", stanza, re.M)
            if not m_files or not m_lic:
                continue
            files = m_files.group(1).split()
            licence = m_lic.group(1).strip()
            if files == ["*"]:
                default = licence
            for f in files:
                if not f.startswith("drumkits/") or not f.endswith(".h2drumkit"):
                    continue
                stem = f[len("drumkits/"):-len(".h2drumkit")]
                for kit in kit_names:
                    # "circAfrique.h2drumkit" ships as folder "circAfrique v4".
                    if fnmatch.fnmatchcase(kit, stem) or kit.startswith(stem + " "):
                        out.setdefault(kit, licence)
        if default and "hydrogen-data" in str(path):
            for kit in kit_names:
                if kit not in out and _package_of(kit) == "hydrogen-data":
                    out[kit] = default
    return out


def _package_of(kit_folder_name: str) -> str:
    # hydrogen-data ships these two kits (see `dpkg -S`); the rest come from hydrogen-drumkits.
    return "hydrogen-data" if kit_folder_name in ("TR808EmulationKit", "GMRockKit") else "hydrogen-drumkits"


def list_hydrogen_kits(root: str | Path = DRUMKITS_ROOT) -> list[Path]:
    """Kit folders (those holding a drumkit.xml) under `root`, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/drumkit.xml"))


def find_kits(names: list[str] | None, root: str | Path = DRUMKITS_ROOT) -> list[Kit]:
    """Hydrogen kits by folder or kit name (None -> DEFAULT_KITS, ["all"] -> every kit)."""
    folders = list_hydrogen_kits(root)
    licences = debian_licences(kit_names=[f.name for f in folders])
    by_name = {f.name: f for f in folders}
    if names is None:
        wanted = [n for n in DEFAULT_KITS if n in by_name]
        if not wanted:
            raise ValueError(f"none of the default kits {', '.join(DEFAULT_KITS)} is under {root} "
                             "(install Debian's hydrogen-drumkits and hydrogen-data, or pass --kit-dir)")
    elif names == ["all"]:
        wanted = list(by_name)
    else:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"unknown kit(s) {', '.join(unknown)} under {root}; "
                             f"available: {', '.join(by_name) or 'none'}")
        wanted = list(names)
    return [parse_drumkit(by_name[n] / "drumkit.xml", licences) for n in wanted]


def folder_kit(folder: str | Path, licence: str | None = None) -> Kit:
    """A kit from a plain folder of one-shots: one instrument per file, role from the file name.

    A Hydrogen folder (with drumkit.xml) is parsed as such. The licence is `licence`, else the
    first line of a LICENSE/COPYING/README file in the folder, else "unknown".
    """
    folder = Path(folder)
    if (folder / "drumkit.xml").is_file():
        kit = parse_drumkit(folder / "drumkit.xml")
        if licence:
            kit = Kit(kit.name, kit.path, licence, "--licence", kit.author, kit.instruments, kit.title)
        return kit
    if not folder.is_dir():
        raise FileNotFoundError(f"kit folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    instruments = tuple(Instrument(p.stem, classify_role(p.stem), (Layer(p),)) for p in files)
    source = "--licence"
    if not licence:
        for cand in ("LICENSE", "LICENSE.txt", "COPYING", "README", "README.txt"):
            if (folder / cand).is_file():
                lines = (folder / cand).read_text(errors="replace").strip().splitlines()
                licence, source = (lines[0].strip() if lines else "unknown"), cand
                break
    return Kit(folder.name, folder, licence or "unknown", source if licence else "none found", "",
               instruments, folder.name)


# ---------------------------------------------------------------------------------------------
# Loading one-shots

@dataclass
class Voice:
    """One instrument's layers, loaded: float32 (2, n) each, at `sample_rate`, peak-normalised."""
    name: str
    role: str
    layers: list[np.ndarray]
    ranges: np.ndarray         # (n_layers, 2) velocity ranges
    gains: np.ndarray          # (n_layers,) linear: layer gain x instrument volume
    sample_rate: int

    def layer_for(self, velocity: float) -> tuple[np.ndarray, float]:
        inside = np.nonzero((self.ranges[:, 0] <= velocity) & (velocity <= self.ranges[:, 1]))[0]
        if len(inside):
            i = int(inside[0])
        else:  # gaps between layer ranges happen in real kits: take the nearest layer
            centre = self.ranges.mean(axis=1)
            i = int(np.argmin(np.abs(centre - velocity)))
        return self.layers[i], float(self.gains[i])


@dataclass
class LoadedKit:
    kit: Kit
    voices: dict[str, list[Voice]] = field(default_factory=dict)  # role -> voices
    unreadable: list[str] = field(default_factory=list)


def read_oneshot(path: Path, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Read a one-shot as float32 (2, n) at `sample_rate`: resampled, stereo, peak 1, tail trimmed."""
    import soundfile as sf
    import soxr

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (n, ch)
    if data.shape[0] == 0:
        raise ValueError("empty file")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    data = data[:, :2]
    if sr != sample_rate:
        data = soxr.resample(data, sr, sample_rate, quality="HQ")
    x = np.ascontiguousarray(data.T)
    peak = float(np.max(np.abs(x)))
    if peak <= 1e-6:
        raise ValueError("silent file")
    x /= peak
    # Trim silence before the onset (below -60 dB, keeping 1 ms): some recordings start late, which
    # would put every hit of that sound behind the grid. And trim the silent tail (below -80 dB):
    # it costs mixing time and adds nothing.
    env = np.max(np.abs(x), axis=0)
    start = max(0, int(np.argmax(env > 1e-3)) - int(0.001 * sample_rate))
    loud = np.nonzero(env > 1e-4)[0]
    n = min(int(loud[-1]) + 1 - start, int(max_seconds * sample_rate))
    x = x[:, start:start + n].copy()
    fade = min(n, int(0.005 * sample_rate))
    if n >= int(max_seconds * sample_rate) and fade > 0:  # cut long cymbals without a click
        x[:, -fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return x


def load_kit(kit: Kit, sample_rate: int = 44100, max_seconds: float = 2.0,
             roles: tuple[str, ...] = ROLES) -> LoadedKit:
    """Load every layer of every instrument with a role; unreadable samples are listed, not fatal."""
    loaded = LoadedKit(kit)
    cache: dict[Path, np.ndarray] = {}
    for role, instruments in kit.roles().items():
        if role not in roles:
            continue
        for inst in instruments:
            layers, ranges, gains = [], [], []
            for layer in inst.layers:
                if layer.path not in cache:
                    try:
                        cache[layer.path] = read_oneshot(layer.path, sample_rate, max_seconds)
                    except Exception as e:  # noqa: BLE001 - any decode error: list the file, keep the kit
                        loaded.unreadable.append(f"{layer.path}: {e}")
                        continue
                layers.append(cache[layer.path])
                ranges.append((layer.min_velocity, layer.max_velocity))
                gains.append(layer.gain * inst.volume)
            if layers:
                loaded.voices.setdefault(role, []).append(Voice(
                    inst.name, role, layers, np.asarray(ranges, np.float32),
                    np.asarray(gains, np.float32), sample_rate))
    return loaded
