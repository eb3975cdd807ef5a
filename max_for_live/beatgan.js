// beatgan.js: the logic of the BeatGAN Max for Live device (BeatGAN.amxd).
//
// Runs in Max's [js] object, which is classic ES5 JavaScript: no let/const, arrow functions,
// template strings or classes. Everything that decides something (OSC message building, seed
// choice, clip-slot choice, the reasons a clip cannot be placed) is a plain function of its
// inputs so node can load this file and test it with a fake LiveAPI (see
// max_for_live/test/harness.js). Only the thin glue at the bottom touches Max globals.
//
// Inlet messages (from the patcher):
//   generate | variation | morph | ping_tick    buttons and the status metro
//   seed N | random 0/1 | amount F | morph_a N | morph_b N | position F | bars_index I |
//   mode_index I | tempo F | ready | take_a | take_b | stems 0/1 | midi 0/1 | drop_midi |
//   drop_stems
//   /beatgan/done ... | /beatgan/pong | /beatgan/error ... | /beatgan/status ...  (udpreceive)
// Outlets:
//   0  OSC messages for [udpsend]: "/beatgan/generate 42 120. 4"
//   1  status text for the status comment
//   2  status light: 1 daemon answers, 0 it does not
//   3  UI updates: "seed N", "morph_a N", "morph_b N", "lastseed N", "path P"

var BARS_CHOICES = [1, 2, 4];
var MODE_CHOICES = ["beats", "repitch", "stretch"];
// Live stores parameter values as 32-bit floats: seeds above 2^24 would not round-trip through
// the Seed box, so the device picks its own random seeds below this bound.
var SEED_MAX = 999999;
var PING_TIMEOUT_MS = 5000;      // no pong for this long: the light goes out
var TEMPO_EPSILON_BPM = 0.001;   // smaller tempo changes are not worth a message
var MIN_LIVE_FOR_AUDIO_CLIPS = [12, 0, 5];  // ClipSlot.create_audio_clip arrived in Live 12.0.5
var REQUEST_ADDRESSES = ["/beatgan/generate", "/beatgan/variation", "/beatgan/morph"];
var MIN_LIVE_FOR_NOTE_API = [11, 0, 0];     // Clip.add_new_notes arrived in Live 11


// ---------------------------------------------------------------------------------------------
// Pure helpers

function clamp(x, lo, hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

function toInt(x, fallback) {
    var n = Number(x);
    return isFinite(n) ? Math.round(n) : fallback;
}

function toFloat(x, fallback) {
    var n = Number(x);
    return isFinite(n) ? n : fallback;
}

// LiveAPI.get() answers arrays ([0]); call() may answer a scalar or an array.
function first(value) {
    if (value instanceof Array) {
        return value.length ? value[0] : undefined;
    }
    return value;
}

function barsFromIndex(index) {
    return BARS_CHOICES[clamp(toInt(index, 0), 0, BARS_CHOICES.length - 1)];
}

function modeFromIndex(index) {
    return MODE_CHOICES[clamp(toInt(index, 0), 0, MODE_CHOICES.length - 1)];
}

// rng() returns a float in [0, 1), like Math.random.
function pickSeed(rng) {
    return Math.floor(rng() * (SEED_MAX + 1)) % (SEED_MAX + 1);
}

// The tempo travels with every request so a daemon that missed a /beatgan/tempo still fits the
// loop to Live; 0 asks the daemon to use the tempo it last heard.
function requestTempo(state) {
    return state.tempo > 0 ? state.tempo : 0;
}

function buildGenerate(state, seed) {
    return ["/beatgan/generate", toInt(seed, -1), requestTempo(state), state.bars];
}

function buildVariation(state) {
    return ["/beatgan/variation", toInt(state.seed, 0), clamp(toFloat(state.amount, 0), 0, 1),
            requestTempo(state), state.bars];
}

function buildMorph(state) {
    return ["/beatgan/morph", toInt(state.morphA, 0), toInt(state.morphB, 0),
            clamp(toFloat(state.position, 0), 0, 1), requestTempo(state), state.bars];
}

function buildTempo(bpm) {
    return ["/beatgan/tempo", bpm];
}

function buildMode(mode) {
    return ["/beatgan/mode", mode];
}

function tempoChanged(lastSent, bpm) {
    return lastSent === null || Math.abs(lastSent - bpm) >= TEMPO_EPSILON_BPM;
}

function daemonAlive(nowMs, lastPongMs) {
    return lastPongMs !== null && nowMs - lastPongMs <= PING_TIMEOUT_MS;
}

// Max on macOS may hand out HFS-style paths ("Macintosh HD:/Users/me/x.wav"); Live's
// create_audio_clip wants a POSIX path, and the daemon sends one. Windows paths keep their drive.
function toPosixPath(path) {
    var p = String(path);
    if (/^[A-Za-z]:[\\\/]/.test(p)) {
        return p.replace(/\\/g, "/");
    }
    var hfs = /^[^\/:]+:(\/.*)$/.exec(p);
    return hfs ? hfs[1] : p;
}

function versionAtLeast(version, minimum) {
    for (var i = 0; i < minimum.length; i++) {
        var v = toInt(version[i], 0);
        if (v !== minimum[i]) {
            return v > minimum[i];
        }
    }
    return true;
}

// LiveAPI.path answers a quoted string ("\"live_set tracks 2 devices 0\"").
function unquote(path) {
    return String(path).replace(/^"+|"+$/g, "");
}

// Where the device sits, from this_device's path. Devices inside racks have longer paths
// ("live_set tracks 2 devices 0 chains 1 devices 0"): the track is the leading part.
function trackOfDevicePath(devicePath) {
    var p = unquote(devicePath);
    var m = /^live_set tracks (\d+)/.exec(p);
    if (m) {
        return {kind: "track", path: "live_set tracks " + m[1], index: Number(m[1])};
    }
    m = /^live_set return_tracks (\d+)/.exec(p);
    if (m) {
        return {kind: "return", path: "live_set return_tracks " + m[1], index: Number(m[1])};
    }
    if (/^live_set master_track/.test(p)) {
        return {kind: "master", path: "live_set master_track", index: -1};
    }
    return {kind: "unknown", path: p, index: -1};
}

// Index of the highlighted slot if it is on our track ("live_set tracks T clip_slots S").
function selectedSlotOnTrack(highlightedPath, trackIndex) {
    var m = /^live_set tracks (\d+) clip_slots (\d+)$/.exec(unquote(highlightedPath));
    if (!m || Number(m[1]) !== trackIndex) {
        return -1;
    }
    return Number(m[2]);
}

// The selected slot when it is empty, else the next empty one below it, else the first empty
// one from the top; -1 when every slot holds a clip. hasClip: one boolean per slot.
function chooseSlot(hasClip, selected) {
    var n = hasClip.length;
    var start = selected >= 0 && selected < n ? selected : 0;
    for (var k = 0; k < n; k++) {
        var i = (start + k) % n;
        if (!hasClip[i]) {
            return i;
        }
    }
    return -1;
}

// Decide where a new loop goes, or why it cannot go anywhere. `info` is what the device read
// from Live: {version: [maj, min, fix], where: trackOfDevicePath(...), hasAudioInput,
// hasMidiInput, isFrozen, isFoldable, hasClip: [...], selected}.
// Answers {ok: true, slot, newScene} or {ok: false, reason}.
function planInsert(info) {
    var v = info.version;
    if (!versionAtLeast(v, MIN_LIVE_FOR_AUDIO_CLIPS)) {
        return {ok: false, reason: "Live " + v.join(".") + " cannot place audio clips from a "
                + "device (needs Live 12.0.5 or newer)"};
    }
    if (info.where.kind === "return" || info.where.kind === "master") {
        return {ok: false, reason: "the device is on the " + info.where.kind
                + " track, which has no clip slots"};
    }
    if (info.where.kind !== "track") {
        return {ok: false, reason: "cannot tell which track holds the device"};
    }
    if (info.isFoldable) {
        return {ok: false, reason: "the device is on a group track, which holds no clips"};
    }
    if (info.hasMidiInput || !info.hasAudioInput) {
        return {ok: false, reason: "the device is on a MIDI track; put it on an audio track"};
    }
    if (info.isFrozen) {
        return {ok: false, reason: "the track is frozen; unfreeze it to add clips"};
    }
    var slot = chooseSlot(info.hasClip, info.selected);
    if (slot < 0) {
        return {ok: true, slot: info.hasClip.length, newScene: true};
    }
    return {ok: true, slot: slot, newScene: false};
}

function fileName(path) {
    var parts = String(path).split("/");
    return parts[parts.length - 1];
}

function isRequestAddress(address) {
    for (var i = 0; i < REQUEST_ADDRESSES.length; i++) {
        if (REQUEST_ADDRESSES[i] === address) {
            return true;
        }
    }
    return false;
}


// ---------------------------------------------------------------------------------------------
// Stems and MIDI (a drum-machine model): what /beatgan/done lists, and the pattern's .mid file

function buildStems(on) {
    return ["/beatgan/stems", on ? 1 : 0];
}

function buildMidi(on) {
    return ["/beatgan/midi", on ? 1 : 0];
}

// /beatgan/done s path, i seed, f bpm, i bars, f latency_ms, [s midi_path, s stem_path ...]:
// the MIDI path is "" when the daemon wrote none; the stems follow (the floor noise last).
function partsOfDone(args) {
    var midi = args.length > 5 ? String(args[5]) : "";
    var stems = [];
    for (var i = 6; i < args.length; i++) {
        if (String(args[i]) !== "") {
            stems.push(toPosixPath(args[i]));
        }
    }
    return {loop: toPosixPath(args[0]), midi: midi === "" ? "" : toPosixPath(midi),
            stems: stems};
}

// "..._stem3-kick.wav" -> "kick"; "..._stem-floor.wav" -> "floor"; anything else: the file name.
function stemName(path) {
    var m = /_stem\d*-([A-Za-z0-9-]+)\.wav$/.exec(fileName(path));
    return m ? m[1] : fileName(path);
}

function readVarLen(bytes, pos) {
    var value = 0;
    for (var i = 0; i < 4; i++) {
        if (pos.i >= bytes.length) {
            throw new Error("the file ends inside a number");
        }
        var b = bytes[pos.i++];
        value = value * 128 + (b & 0x7F);
        if (!(b & 0x80)) {
            return value;
        }
    }
    throw new Error("a number longer than 4 bytes");
}

function readU32(bytes, i) {
    return ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3];
}

function chunkId(bytes, i) {
    return String.fromCharCode(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]);
}

// A Standard MIDI File (format 0 or 1, ticks per quarter note) -> {lengthBeats, notes: [{pitch,
// start_time, duration, velocity, mute}]} in beats, as Live's add_new_notes takes them. Notes on
// every channel; a note left on at the end of its track ends there.
function parseMidi(bytes) {
    if (bytes.length < 14 || chunkId(bytes, 0) !== "MThd") {
        throw new Error("not a MIDI file");
    }
    var tracks = (bytes[10] << 8) + bytes[11];
    var division = (bytes[12] << 8) + bytes[13];
    if (division & 0x8000) {
        throw new Error("SMPTE time is not supported");
    }
    var notes = [];
    var end = 0;
    var at = 8 + readU32(bytes, 4);
    for (var t = 0; t < tracks && at + 8 <= bytes.length; t++) {
        var size = readU32(bytes, at + 4);
        var id = chunkId(bytes, at);
        var pos = {i: at + 8};
        var stop = Math.min(at + 8 + size, bytes.length);
        at += 8 + size;
        if (id !== "MTrk") {
            t--;
            continue;
        }
        var tick = 0;
        var status = 0;
        var open = {};
        while (pos.i < stop) {
            tick += readVarLen(bytes, pos);
            var b = bytes[pos.i];
            if (b >= 0x80) {
                status = b;
                pos.i++;
            }
            if (status === 0xFF) {
                var type = bytes[pos.i++];
                var len = readVarLen(bytes, pos);
                pos.i += len;
                status = 0;
                if (type === 0x2F) {
                    break;
                }
                continue;
            }
            if (status === 0xF0 || status === 0xF7) {
                pos.i += readVarLen(bytes, pos);
                status = 0;
                continue;
            }
            var kind = status & 0xF0;
            if (kind === 0) {
                throw new Error("running status without a status byte");
            }
            var d1 = bytes[pos.i++];
            var d2 = (kind === 0xC0 || kind === 0xD0) ? 0 : bytes[pos.i++];
            var key = (status & 0x0F) * 128 + d1;
            if (kind === 0x90 && d2 > 0) {
                (open[key] = open[key] || []).push({tick: tick, velocity: d2});
            } else if (kind === 0x80 || kind === 0x90) {
                var on = open[key] && open[key].shift();
                if (on) {
                    notes.push({pitch: d1, start: on.tick, end: tick, velocity: on.velocity});
                }
            }
        }
        for (var k in open) {
            if (open.hasOwnProperty(k)) {
                for (var j = 0; j < open[k].length; j++) {
                    notes.push({pitch: Number(k) % 128, start: open[k][j].tick, end: tick,
                                velocity: open[k][j].velocity});
                }
            }
        }
        end = Math.max(end, tick);
    }
    var out = [];
    for (var n = 0; n < notes.length; n++) {
        out.push({pitch: notes[n].pitch, start_time: notes[n].start / division,
                  duration: Math.max(notes[n].end - notes[n].start, 1) / division,
                  velocity: notes[n].velocity, mute: 0});
    }
    out.sort(function (a, b) { return a.start_time - b.start_time || a.pitch - b.pitch; });
    return {lengthBeats: end / division, notes: out};
}

// Where the MIDI clip goes: the selected track when it is a MIDI track (a mapped button while
// you look at another track), else the MIDI track right of the device's, else a new MIDI track
// there. info: {version, where, selected: {index, isMidi, isFrozen, isFoldable} or null,
// right: {isMidi, isFrozen, isFoldable} or null}. Answers {ok, track, create} or {ok: false, reason}.
function planMidiTrack(info) {
    if (info.where.kind !== "track") {
        return {ok: false, reason: "put the device on an audio track next to where the MIDI "
                + "clip should go"};
    }
    var usable = function (t) { return t && t.isMidi && !t.isFrozen && !t.isFoldable; };
    if (usable(info.selected)) {
        return {ok: true, track: info.selected.index, create: false};
    }
    if (usable(info.right)) {
        return {ok: true, track: info.where.index + 1, create: false};
    }
    return {ok: true, track: info.where.index + 1, create: true};
}


// ---------------------------------------------------------------------------------------------
// The device: state plus the I/O it is handed.
//   io.osc(list), io.status(text), io.light(0/1), io.ui(list)   outlets
//   io.now() -> ms, io.rng() -> [0, 1)
//   io.live(path) -> LiveAPI-like {id, path, get(prop), call(fn, ...), getcount(child)}

function Device(io) {
    this.io = io;
    this.state = {
        seed: 1, random: true, amount: 0.3, morphA: 1, morphB: 2, position: 0.5,
        bars: 1, mode: "beats", tempo: 0, stems: false, midi: false
    };
    this.lastParts = null;  // {loop, midi, stems} of the last loop this device asked for
    this.lastSeed = null;
    this.lastTempoSent = null;
    this.lastPong = null;
    this.firstPing = null;
    this.alive = false;
    this.warned = false;
    this.liveReady = false;
    this.pending = [];      // send times (ms) of this device's requests not answered yet
    this.queued = [];       // finished loops that arrived before Live's API was ready
}

Device.prototype.send = function (msg) {
    this.io.osc(msg);
};

Device.prototype.generate = function () {
    var seed = this.state.seed;
    if (this.state.random) {
        seed = pickSeed(this.io.rng);
        this.state.seed = seed;
        this.io.ui(["seed", seed]);
    }
    this.pending.push(this.io.now());
    this.send(buildGenerate(this.state, seed));
    this.io.status("generating seed " + seed + "...");
};

Device.prototype.variation = function () {
    this.pending.push(this.io.now());
    this.send(buildVariation(this.state));
    this.io.status("variation of seed " + toInt(this.state.seed, 0) + "...");
};

Device.prototype.morph = function () {
    this.pending.push(this.io.now());
    this.send(buildMorph(this.state));
    this.io.status("morphing " + toInt(this.state.morphA, 0) + " > "
                   + toInt(this.state.morphB, 0) + "...");
};

Device.prototype.setSeed = function (v) {
    this.state.seed = clamp(toInt(v, 0), 0, SEED_MAX);
};

Device.prototype.setRandom = function (v) {
    this.state.random = toInt(v, 0) !== 0;
};

Device.prototype.setAmount = function (v) {
    this.state.amount = clamp(toFloat(v, 0), 0, 1);
};

Device.prototype.setMorphA = function (v) {
    this.state.morphA = clamp(toInt(v, 0), 0, SEED_MAX);
};

Device.prototype.setMorphB = function (v) {
    this.state.morphB = clamp(toInt(v, 0), 0, SEED_MAX);
};

Device.prototype.setPosition = function (v) {
    this.state.position = clamp(toFloat(v, 0), 0, 1);
};

Device.prototype.setBarsIndex = function (i) {
    this.state.bars = barsFromIndex(i);
};

Device.prototype.setModeIndex = function (i) {
    var mode = modeFromIndex(i);
    this.state.mode = mode;
    this.send(buildMode(mode));
};

Device.prototype.setStems = function (v) {
    this.state.stems = toInt(v, 0) !== 0;
    this.send(buildStems(this.state.stems));
};

Device.prototype.setMidi = function (v) {
    this.state.midi = toInt(v, 0) !== 0;
    this.send(buildMidi(this.state.midi));
};

// The last seed the daemon reported goes into morph A or B (the "A<" / "B<" buttons).
Device.prototype.takeSeed = function (which) {
    var seed = this.lastSeed !== null ? this.lastSeed : this.state.seed;
    if (seed > SEED_MAX) {
        this.io.status("seed " + seed + " is beyond the boxes' range (0-" + SEED_MAX + ")");
        return;
    }
    if (which === "a") {
        this.state.morphA = seed;
        this.io.ui(["morph_a", seed]);
    } else {
        this.state.morphB = seed;
        this.io.ui(["morph_b", seed]);
    }
};

Device.prototype.setTempo = function (bpm) {
    var t = toFloat(bpm, 0);
    if (t <= 0) {
        return;
    }
    this.state.tempo = t;
    if (tempoChanged(this.lastTempoSent, t)) {
        this.lastTempoSent = t;
        this.send(buildTempo(t));
    }
};

Device.prototype.pingTick = function () {
    var now = this.io.now();
    if (this.firstPing === null) {
        this.firstPing = now;
        this.io.light(0);
        this.io.status("looking for the daemon on 127.0.0.1:14700...");
    }
    var alive = daemonAlive(now, this.lastPong);
    if (alive !== this.alive) {
        this.alive = alive;
        this.io.light(alive ? 1 : 0);
    }
    // Warn once per outage, and only after the daemon had time to answer.
    if (!alive && !this.warned && now - this.firstPing > PING_TIMEOUT_MS) {
        this.warned = true;
        this.io.status("daemon not answering on 127.0.0.1:14700: start `beatgan serve`");
    }
    this.send(["/beatgan/ping"]);
};

Device.prototype.onPong = function () {
    this.lastPong = this.io.now();
    this.warned = false;
    if (!this.alive) {
        this.alive = true;
        // Requests sent while the daemon was away will never be answered.
        var since = this.lastPong - PING_TIMEOUT_MS;
        this.pending = this.pending.filter(function (t) { return t >= since; });
        this.io.light(1);
        this.io.status("daemon connected");
        // A daemon that (re)started knows nothing of this set: tell it the mode and tempo.
        this.send(buildMode(this.state.mode));
        this.send(buildStems(this.state.stems));
        this.send(buildMidi(this.state.midi));
        if (this.state.tempo > 0) {
            this.lastTempoSent = this.state.tempo;
            this.send(buildTempo(this.state.tempo));
        }
    }
};

Device.prototype.onReady = function () {
    this.liveReady = true;
    var queued = this.queued;
    this.queued = [];
    for (var i = 0; i < queued.length; i++) {
        this.place(queued[i]);
    }
};

// /beatgan/done path seed bpm bars latency_ms
Device.prototype.onDone = function (args) {
    var path = toPosixPath(args[0]);
    var seed = toInt(args[1], null);
    if (seed !== null) {
        this.lastSeed = seed;
        this.io.ui(["lastseed", seed]);
    }
    this.io.ui(["path", path]);
    if (this.pending.length === 0) {
        // Another client's request (Pd, a MIDI note): show it, leave the set alone.
        this.io.status("new loop " + fileName(path) + " (not requested here)");
        return;
    }
    this.pending.shift();
    this.lastParts = partsOfDone(args);
    if (!this.liveReady) {
        this.queued.push(path);
        return;
    }
    this.place(path);
};

Device.prototype.onError = function (args) {
    var address = String(args[0]);
    var message = args.slice(1).join(" ");
    if (isRequestAddress(address)) {
        this.pending.shift();
    }
    this.io.status("daemon error on " + address + ": " + message);
};

Device.prototype.onStatus = function (args) {
    this.io.status("daemon: " + args.join(" "));
};

// Read what planInsert needs from Live. Any LiveAPI call can fail on an odd set (a device being
// deleted, a Live without the property): those become a reason, not an exception in Max.
Device.prototype.readLive = function () {
    var io = this.io;
    var app = io.live("live_app");
    var version = [first(app.call("get_major_version")), first(app.call("get_minor_version")),
                   first(app.call("get_bugfix_version"))];
    var where = trackOfDevicePath(io.live("this_device").path);
    var info = {version: version, where: where, hasAudioInput: false, hasMidiInput: false,
                isFrozen: false, isFoldable: false, hasClip: [], selected: -1};
    if (where.kind !== "track") {
        return info;
    }
    var track = io.live(where.path);
    info.hasAudioInput = toInt(first(track.get("has_audio_input")), 0) === 1;
    info.hasMidiInput = toInt(first(track.get("has_midi_input")), 0) === 1;
    info.isFrozen = toInt(first(track.get("is_frozen")), 0) === 1;
    info.isFoldable = toInt(first(track.get("is_foldable")), 0) === 1;
    var n = toInt(track.getcount("clip_slots"), 0);
    for (var i = 0; i < n; i++) {
        var slot = io.live(where.path + " clip_slots " + i);
        info.hasClip.push(toInt(first(slot.get("has_clip")), 0) === 1);
    }
    var highlighted = io.live("live_set view highlighted_clip_slot");
    if (toInt(highlighted.id, 0) !== 0) {
        info.selected = selectedSlotOnTrack(highlighted.path, where.index);
    }
    return info;
};

Device.prototype.place = function (path) {
    var name = fileName(path);
    var plan;
    try {
        plan = planInsert(this.readLive());
    } catch (e) {
        plan = {ok: false, reason: "Live API error: " + e};
    }
    if (!plan.ok) {
        this.io.status(plan.reason + ". " + name + " is in the watched folder: drag it in");
        return plan;
    }
    try {
        var trackPath = trackOfDevicePath(this.io.live("this_device").path).path;
        if (plan.newScene) {
            this.io.live("live_set").call("create_scene", -1);
        }
        var slot = this.io.live(trackPath + " clip_slots " + plan.slot);
        slot.call("create_audio_clip", path);
        if (toInt(first(slot.get("has_clip")), 0) !== 1) {
            throw new Error("Live made no clip (is the file a readable WAV?)");
        }
    } catch (e2) {
        this.io.status("could not place " + name + ": " + e2.message
                       + ". It is in the watched folder: drag it in");
        return {ok: false, reason: String(e2.message)};
    }
    this.io.status(name + " > slot " + (plan.slot + 1) + (plan.newScene ? " (new scene)" : ""));
    return plan;
};

// Describe a track for planMidiTrack (null when there is none at that path).
Device.prototype.describeTrack = function (path) {
    var track = this.io.live(path);
    if (toInt(track.id, 0) === 0) {
        return null;
    }
    var m = /^live_set tracks (\d+)$/.exec(unquote(track.path));
    return {index: m ? Number(m[1]) : -1,
            isMidi: toInt(first(track.get("has_midi_input")), 0) === 1,
            isFrozen: toInt(first(track.get("is_frozen")), 0) === 1,
            isFoldable: toInt(first(track.get("is_foldable")), 0) === 1};
};

Device.prototype.emptySlotOn = function (trackIndex) {
    var path = "live_set tracks " + trackIndex;
    var n = toInt(this.io.live(path).getcount("clip_slots"), 0);
    var hasClip = [];
    for (var i = 0; i < n; i++) {
        hasClip.push(toInt(first(this.io.live(path + " clip_slots " + i).get("has_clip")), 0) === 1);
    }
    var selected = -1;
    var highlighted = this.io.live("live_set view highlighted_clip_slot");
    if (toInt(highlighted.id, 0) !== 0) {
        var m = /clip_slots (\d+)$/.exec(unquote(highlighted.path));
        selected = m ? Number(m[1]) : -1;
    }
    var slot = chooseSlot(hasClip, selected);
    if (slot < 0) {
        this.io.live("live_set").call("create_scene", -1);
        slot = n;
    }
    return slot;
};

// "Drop MIDI clip": the last loop's .mid as a MIDI clip (create_midi_clip, then add_new_notes;
// set_notes before Live 11) on a MIDI track next to the device (see planMidiTrack).
Device.prototype.dropMidi = function () {
    var parts = this.lastParts;
    if (!parts || !parts.midi) {
        this.io.status("no MIDI file yet: turn MIDI on and make a loop (needs a drum-machine "
                       + "model)");
        return {ok: false};
    }
    var name = fileName(parts.midi);
    var clip;
    try {
        clip = parseMidi(this.io.readBytes(parts.midi));
    } catch (e) {
        this.io.status("could not read " + name + ": " + e.message);
        return {ok: false, reason: String(e.message)};
    }
    try {
        var app = this.io.live("live_app");
        var version = [first(app.call("get_major_version")), first(app.call("get_minor_version")),
                       first(app.call("get_bugfix_version"))];
        var where = trackOfDevicePath(this.io.live("this_device").path);
        var info = {version: version, where: where,
                    selected: this.describeTrack("live_set view selected_track"),
                    right: where.kind === "track"
                        ? this.describeTrack("live_set tracks " + (where.index + 1)) : null};
        var plan = planMidiTrack(info);
        if (!plan.ok) {
            this.io.status(plan.reason + ". " + name + " is in the watched folder: drag it in");
            return plan;
        }
        if (plan.create) {
            this.io.live("live_set").call("create_midi_track", plan.track);
            this.io.live("live_set tracks " + plan.track).set("name", "BeatGAN MIDI");
        }
        var slotIndex = this.emptySlotOn(plan.track);
        var slotPath = "live_set tracks " + plan.track + " clip_slots " + slotIndex;
        this.io.live(slotPath).call("create_midi_clip", clip.lengthBeats);
        var liveClip = this.io.live(slotPath + " clip");
        if (toInt(liveClip.id, 0) === 0) {
            throw new Error("Live made no clip");
        }
        if (versionAtLeast(version, MIN_LIVE_FOR_NOTE_API)) {
            liveClip.call("add_new_notes", {notes: clip.notes});
        } else {
            liveClip.call("set_notes");
            liveClip.call("notes", clip.notes.length);
            for (var i = 0; i < clip.notes.length; i++) {
                var n = clip.notes[i];
                liveClip.call("note", n.pitch, n.start_time, n.duration, n.velocity, 0);
            }
            liveClip.call("done");
        }
        liveClip.set("name", name.replace(/\.mid$/, ""));
        this.io.status(name + " > MIDI track " + (plan.track + 1) + ", slot " + (slotIndex + 1)
                       + " (" + clip.notes.length + " notes)");
        return {ok: true, track: plan.track, slot: slotIndex};
    } catch (e2) {
        this.io.status("could not place " + name + ": " + e2.message
                       + ". It is in the watched folder: drag it in");
        return {ok: false, reason: String(e2.message)};
    }
};

// "Drop stems": one new audio track per stem right of the device's track, named after the
// voice, each with its stem in the same scene row.
Device.prototype.dropStems = function () {
    var parts = this.lastParts;
    if (!parts || parts.stems.length === 0) {
        this.io.status("no stems yet: turn Stems on and make a loop (needs a drum-machine model)");
        return {ok: false};
    }
    try {
        var app = this.io.live("live_app");
        var version = [first(app.call("get_major_version")), first(app.call("get_minor_version")),
                       first(app.call("get_bugfix_version"))];
        if (!versionAtLeast(version, MIN_LIVE_FOR_AUDIO_CLIPS)) {
            throw new Error("Live " + version.join(".") + " cannot place audio clips from a "
                            + "device (needs Live 12.0.5 or newer)");
        }
        var where = trackOfDevicePath(this.io.live("this_device").path);
        if (where.kind !== "track") {
            throw new Error("put the device on an audio track");
        }
        var row = 0;
        var highlighted = this.io.live("live_set view highlighted_clip_slot");
        if (toInt(highlighted.id, 0) !== 0) {
            var m = /clip_slots (\d+)$/.exec(unquote(highlighted.path));
            row = m ? Number(m[1]) : 0;
        }
        var song = this.io.live("live_set");
        for (var i = 0; i < parts.stems.length; i++) {
            var index = where.index + 1 + i;
            song.call("create_audio_track", index);
            this.io.live("live_set tracks " + index).set("name", stemName(parts.stems[i]));
            var slot = this.io.live("live_set tracks " + index + " clip_slots " + row);
            slot.call("create_audio_clip", parts.stems[i]);
            if (toInt(first(slot.get("has_clip")), 0) !== 1) {
                throw new Error("Live made no clip of " + fileName(parts.stems[i]));
            }
        }
        this.io.status(parts.stems.length + " stems > tracks " + (where.index + 2) + "-"
                       + (where.index + 1 + parts.stems.length) + ", slot " + (row + 1));
        return {ok: true};
    } catch (e) {
        this.io.status("could not drop the stems: " + e.message
                       + ". They are in the watched folder: drag them in");
        return {ok: false, reason: String(e.message)};
    }
};

// Route an incoming OSC reply (address + args, as [udpreceive] delivers it).
Device.prototype.onOsc = function (address, args) {
    if (address === "/beatgan/done") {
        this.onDone(args);
    } else if (address === "/beatgan/pong") {
        this.onPong();
    } else if (address === "/beatgan/error") {
        this.onError(args);
    } else if (address === "/beatgan/status") {
        this.onStatus(args);
    }
    // Other addresses are replies this device never asked for; the daemon may grow new ones.
};


// ---------------------------------------------------------------------------------------------
// Exports for node; Max glue otherwise.

if (typeof module !== "undefined" && module.exports) {
    module.exports = {
        BARS_CHOICES: BARS_CHOICES, MODE_CHOICES: MODE_CHOICES, SEED_MAX: SEED_MAX,
        PING_TIMEOUT_MS: PING_TIMEOUT_MS, MIN_LIVE_FOR_AUDIO_CLIPS: MIN_LIVE_FOR_AUDIO_CLIPS,
        barsFromIndex: barsFromIndex, modeFromIndex: modeFromIndex, pickSeed: pickSeed,
        buildGenerate: buildGenerate, buildVariation: buildVariation, buildMorph: buildMorph,
        buildTempo: buildTempo, buildMode: buildMode, tempoChanged: tempoChanged,
        daemonAlive: daemonAlive, toPosixPath: toPosixPath, versionAtLeast: versionAtLeast,
        trackOfDevicePath: trackOfDevicePath, selectedSlotOnTrack: selectedSlotOnTrack,
        chooseSlot: chooseSlot, planInsert: planInsert, Device: Device,
        buildStems: buildStems, buildMidi: buildMidi, partsOfDone: partsOfDone,
        stemName: stemName, parseMidi: parseMidi, planMidiTrack: planMidiTrack
    };
} else {
    maxGlue();
}

function maxGlue() {
    // Max's [js] reads these globals to build the box.
    inlets = 1;
    outlets = 4;
    autowatch = 1;
}

var device = null;

function theDevice() {
    if (device === null) {
        device = new Device({
            osc: function (msg) { outlet(0, msg); },
            status: function (text) {
                outlet(1, "set", text);
                // The Max window keeps the full text (whole paths) for copying.
                post("BeatGAN: " + text + "\n");
            },
            light: function (on) { outlet(2, on); },
            ui: function (msg) { outlet(3, msg); },
            now: function () { return new Date().getTime(); },
            rng: Math.random,
            live: function (path) { return new LiveAPI(path); },
            readBytes: readFileBytes
        });
    }
    return device;
}

// Max's File object reads the .mid the daemon wrote (an array of byte values).
function readFileBytes(path) {
    var f = new File(path, "read");
    if (!f.isopen) {
        throw new Error("cannot open " + path);
    }
    var out = [];
    while (f.position < f.eof) {
        var chunk = f.readbytes(Math.min(4096, f.eof - f.position));
        if (!chunk || chunk.length === 0) {
            break;
        }
        out = out.concat(chunk);
    }
    f.close();
    return out;
}

// Max calls these by message name.
function generate() { theDevice().generate(); }
function variation() { theDevice().variation(); }
function morph() { theDevice().morph(); }
function ping_tick() { theDevice().pingTick(); }
function ready() { theDevice().onReady(); }
function take_a() { theDevice().takeSeed("a"); }
function take_b() { theDevice().takeSeed("b"); }
function seed(v) { theDevice().setSeed(v); }
function random(v) { theDevice().setRandom(v); }
function amount(v) { theDevice().setAmount(v); }
function morph_a(v) { theDevice().setMorphA(v); }
function morph_b(v) { theDevice().setMorphB(v); }
function position(v) { theDevice().setPosition(v); }
function bars_index(v) { theDevice().setBarsIndex(v); }
function mode_index(v) { theDevice().setModeIndex(v); }
function tempo(v) { theDevice().setTempo(v); }
function stems(v) { theDevice().setStems(v); }
function midi(v) { theDevice().setMidi(v); }
function drop_midi() { theDevice().dropMidi(); }
function drop_stems() { theDevice().dropStems(); }

// [udpreceive] output: the OSC address is the message name.
function anything() {
    var args = arrayfromargs(arguments);
    theDevice().onOsc(messagename, args);
}
