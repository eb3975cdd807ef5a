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
//   mode_index I | tempo F | ready | take_a | take_b
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
// The device: state plus the I/O it is handed.
//   io.osc(list), io.status(text), io.light(0/1), io.ui(list)   outlets
//   io.now() -> ms, io.rng() -> [0, 1)
//   io.live(path) -> LiveAPI-like {id, path, get(prop), call(fn, ...), getcount(child)}

function Device(io) {
    this.io = io;
    this.state = {
        seed: 1, random: true, amount: 0.3, morphA: 1, morphB: 2, position: 0.5,
        bars: 1, mode: "beats", tempo: 0
    };
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
        chooseSlot: chooseSlot, planInsert: planInsert, Device: Device
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
            live: function (path) { return new LiveAPI(path); }
        });
    }
    return device;
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

// [udpreceive] output: the OSC address is the message name.
function anything() {
    var args = arrayfromargs(arguments);
    theDevice().onOsc(messagename, args);
}
