// Node harness for beatgan.js: runs the device logic against a fake Live set.
//
// Reads one JSON scenario on stdin, writes one JSON result on stdout:
//   node max_for_live/test/harness.js < scenario.json
//
// Scenario:
//   {"live": {"version": [12, 1, 0], "device": "live_set tracks 0 devices 0",
//             "tracks": [{"type": "audio"|"midi"|"group", "frozen": false,
//                          "slots": [false, true, ...]}],
//             "returns": 1, "highlighted": "live_set tracks 0 clip_slots 1" | null,
//             "selected_track": "live_set tracks 1" (default: the device's track)},
//    "rng": [0.5, ...],                     values Math.random would have given
//    "actions": [["generate"], ["osc", "/beatgan/done", "/x.wav", 42, 120.0, 1, 9.5],
//                ["ready"], ["advance", 2000], ["tick"], ["seed", 7], ...]}
// Result: {"osc": [[...]], "status": [...], "light": [...], "ui": [[...]],
//          "clips": [{"track": 0, "slot": 1, "file": "/x.wav"}], "scenes": 8,
//          "midi_clips": [{"track": 1, "slot": 0, "length": 4, "notes": [...], "name": ".."}],
//          "tracks": [{"type": "audio", "name": "kick"}, ...],
//          "live_errors": [...], "violations": [...]}
//
// The fake follows what the Max docs say LiveAPI does: get() answers arrays, call() answers a
// value, path is a quoted string, an unknown path has id 0, and failures are posted to the Max
// console rather than thrown (recorded here as live_errors).
"use strict";

const fs = require("fs");
const path = require("path");
const beatgan = require(path.join(__dirname, "..", "beatgan.js"));

function versionAtLeast(v, min) {
    for (let i = 0; i < min.length; i++) {
        if (v[i] !== min[i]) return v[i] > min[i];
    }
    return true;
}

class FakeLive {
    constructor(spec) {
        this.version = spec.version || [12, 1, 0];
        this.devicePath = spec.device || "live_set tracks 0 devices 0";
        this.tracks = (spec.tracks || [{type: "audio", slots: [false]}]).map((t) => ({
            type: t.type || "audio",
            frozen: !!t.frozen,
            name: t.name || "",
            slots: (t.slots || []).map((hasClip) => (hasClip ? {file: "(existing)"} : null)),
        }));
        this.selectedTrack = spec.selected_track || null;
        this.midiClips = [];
        this.returns = spec.returns || 0;
        this.highlighted = spec.highlighted === undefined ? null : spec.highlighted;
        this.clips = [];
        this.errors = [];
        this.ready = false;
        this.violations = [];
        this.nextId = 1;
        this.ids = {};
    }

    idFor(p) {
        if (!(p in this.ids)) this.ids[p] = this.nextId++;
        return this.ids[p];
    }

    sceneCount() {
        return this.tracks.length ? this.tracks[0].slots.length : 0;
    }

    // Resolve a LiveAPI path to a description of the object, or null.
    resolve(p) {
        let m;
        if (p === "live_app") return {kind: "app"};
        if (p === "live_set") return {kind: "song"};
        if (p === "this_device") return {kind: "device", path: this.devicePath};
        if (p === "live_set view highlighted_clip_slot") {
            return this.highlighted ? this.resolve(this.highlighted) : null;
        }
        if (p === "live_set view selected_track") {
            const dm = /^live_set tracks (\d+)/.exec(this.devicePath);
            const sel = this.selectedTrack || (dm ? dm[0] : null);
            return sel ? this.resolve(sel) : null;
        }
        if ((m = /^live_set tracks (\d+) clip_slots (\d+) clip$/.exec(p))) {
            const slot = this.resolve("live_set tracks " + m[1] + " clip_slots " + m[2]);
            return slot && this.tracks[slot.t].slots[slot.s]
                ? {kind: "clip", t: slot.t, s: slot.s, path: p} : null;
        }
        if ((m = /^live_set tracks (\d+)$/.exec(p))) {
            const t = Number(m[1]);
            return t < this.tracks.length ? {kind: "track", t, path: p} : null;
        }
        if ((m = /^live_set tracks (\d+) clip_slots (\d+)$/.exec(p))) {
            const t = Number(m[1]);
            const s = Number(m[2]);
            if (t >= this.tracks.length || s >= this.tracks[t].slots.length) return null;
            return {kind: "slot", t, s, path: p};
        }
        if ((m = /^live_set return_tracks (\d+)/.exec(p))) {
            return Number(m[1]) < this.returns ? {kind: "return", path: p} : null;
        }
        if (/^live_set master_track/.test(p)) return {kind: "master", path: p};
        return null;
    }

    api(p) {
        if (!this.ready) {
            this.violations.push("LiveAPI('" + p + "') before live.thisdevice was ready");
        }
        const live = this;
        const obj = this.resolve(p);
        const canonical = obj ? (obj.path || p) : "";
        return {
            id: obj ? String(this.idFor(canonical)) : "0",
            path: '"' + canonical + '"',
            get(prop) { return live.get(obj, prop); },
            getcount(child) { return live.getcount(obj, child); },
            call(fn, ...args) { return live.call(obj, fn, args); },
            set(prop, value) { return live.set(obj, prop, value); },
        };
    }

    set(obj, prop, value) {
        if (obj && prop === "name" && obj.kind === "track") {
            this.tracks[obj.t].name = String(value);
        } else if (obj && prop === "name" && obj.kind === "clip") {
            this.tracks[obj.t].slots[obj.s].name = String(value);
        } else {
            this.errors.push("set " + prop + ": not settable on " + (obj ? obj.kind : "nothing"));
        }
    }

    get(obj, prop) {
        if (!obj) {
            this.errors.push("get " + prop + ": invalid object");
            return [];
        }
        if (obj.kind === "track") {
            const tr = this.tracks[obj.t];
            const table = {
                has_audio_input: tr.type === "audio" ? 1 : 0,
                has_midi_input: tr.type === "midi" ? 1 : 0,
                is_frozen: tr.frozen ? 1 : 0,
                is_foldable: tr.type === "group" ? 1 : 0,
            };
            if (prop in table) return [table[prop]];
        }
        if (obj.kind === "slot" && prop === "has_clip") {
            return [this.tracks[obj.t].slots[obj.s] ? 1 : 0];
        }
        this.errors.push("get " + prop + ": no such property on " + obj.kind);
        return [];
    }

    getcount(obj, child) {
        if (obj && obj.kind === "track" && child === "clip_slots") {
            return this.tracks[obj.t].slots.length;
        }
        this.errors.push("getcount " + child + ": invalid");
        return 0;
    }

    call(obj, fn, args) {
        if (!obj) {
            this.errors.push("call " + fn + ": invalid object");
            return undefined;
        }
        if (obj.kind === "app") {
            const i = ["get_major_version", "get_minor_version", "get_bugfix_version"].indexOf(fn);
            if (i >= 0) return this.version[i];
        }
        if (obj.kind === "song" && fn === "create_scene") {
            for (const tr of this.tracks) tr.slots.push(null);
            return undefined;
        }
        if (obj.kind === "song" && (fn === "create_midi_track" || fn === "create_audio_track")) {
            const index = args[0] === -1 ? this.tracks.length : args[0];
            if (!(index >= 0 && index <= this.tracks.length)) {
                this.errors.push(fn + ": index " + args[0] + " out of range");
                return undefined;
            }
            const slots = new Array(this.sceneCount()).fill(null);
            this.tracks.splice(index, 0, {type: fn === "create_midi_track" ? "midi" : "audio",
                                          frozen: false, name: "", slots});
            for (const c of this.clips.concat(this.midiClips)) if (c.track >= index) c.track++;
            return undefined;
        }
        if (obj.kind === "slot" && fn === "create_audio_clip") {
            return this.createAudioClip(obj, args[0]);
        }
        if (obj.kind === "slot" && fn === "create_midi_clip") {
            const tr = this.tracks[obj.t];
            if (tr.type !== "midi") {
                this.errors.push("create_midi_clip: not a MIDI track");
            } else if (tr.slots[obj.s]) {
                this.errors.push("create_midi_clip: clip slot is not empty");
            } else if (!(args[0] > 0)) {
                this.errors.push("create_midi_clip: length must be positive");
            } else {
                const clip = {track: obj.t, slot: obj.s, length: args[0], notes: [], name: ""};
                tr.slots[obj.s] = clip;
                this.midiClips.push(clip);
            }
            return undefined;
        }
        if (obj.kind === "clip") {
            return this.clipCall(this.tracks[obj.t].slots[obj.s], fn, args);
        }
        this.errors.push("call " + fn + ": no such function on " + obj.kind);
        return undefined;
    }

    // Live 11's add_new_notes (a dictionary of notes), or the older set_notes sequence:
    // set_notes, notes N, note pitch time duration velocity muted (N times), done.
    clipCall(clip, fn, args) {
        if (fn === "add_new_notes") {
            if (!versionAtLeast(this.version, [11, 0, 0])) {
                this.errors.push("call add_new_notes: no such function");
                return undefined;
            }
            const dict = args[0];
            if (!dict || !Array.isArray(dict.notes)) {
                this.errors.push("add_new_notes: expects {notes: [...]}");
                return undefined;
            }
            for (const n of dict.notes) {
                const ok = Number.isInteger(n.pitch) && n.pitch >= 0 && n.pitch < 128 &&
                    n.start_time >= 0 && n.duration > 0 && n.velocity >= 1 && n.velocity <= 127;
                if (!ok) this.errors.push("add_new_notes: bad note " + JSON.stringify(n));
                clip.notes.push({pitch: n.pitch, start_time: n.start_time, duration: n.duration,
                                 velocity: n.velocity});
            }
            return undefined;
        }
        if (fn === "set_notes") { clip.pending = {expect: null, notes: []}; return undefined; }
        if (fn === "notes" && clip.pending) { clip.pending.expect = args[0]; return undefined; }
        if (fn === "note" && clip.pending) {
            const [pitch, start_time, duration, velocity] = args;
            clip.pending.notes.push({pitch, start_time, duration, velocity});
            return undefined;
        }
        if (fn === "done" && clip.pending) {
            if (clip.pending.expect !== clip.pending.notes.length) {
                this.errors.push("set_notes: announced " + clip.pending.expect + " notes, got " +
                                 clip.pending.notes.length);
            }
            clip.notes.push(...clip.pending.notes);
            clip.pending = null;
            return undefined;
        }
        this.errors.push("call " + fn + ": no such function on clip");
        return undefined;
    }

    createAudioClip(obj, file) {
        if (!versionAtLeast(this.version, [12, 0, 5])) {
            this.errors.push("call create_audio_clip: no such function");
            return undefined;
        }
        const tr = this.tracks[obj.t];
        if (tr.type !== "audio") {
            this.errors.push("create_audio_clip: not an audio track");
        } else if (tr.frozen) {
            this.errors.push("create_audio_clip: track is frozen");
        } else if (tr.slots[obj.s]) {
            this.errors.push("create_audio_clip: clip slot is not empty");
        } else if (typeof file !== "string" || !file.startsWith("/") || !fs.existsSync(file)) {
            this.errors.push("create_audio_clip: file not found: " + file);
        } else {
            tr.slots[obj.s] = {file};
            this.clips.push({track: obj.t, slot: obj.s, file});
        }
        return undefined;
    }
}

function run(scenario) {
    const live = new FakeLive(scenario.live || {});
    const out = {osc: [], status: [], light: [], ui: []};
    const rng = (scenario.rng || []).slice();
    let clock = 1000;
    const device = new beatgan.Device({
        osc: (msg) => out.osc.push(msg.slice()),
        status: (text) => out.status.push(String(text)),
        light: (on) => out.light.push(on),
        ui: (msg) => out.ui.push(msg.slice()),
        now: () => clock,
        rng: () => (rng.length ? rng.shift() : 0.25),
        live: (p) => live.api(p),
        readBytes: (p) => Array.from(fs.readFileSync(p)),
    });
    const setters = {
        seed: "setSeed", random: "setRandom", amount: "setAmount", morph_a: "setMorphA",
        morph_b: "setMorphB", position: "setPosition", bars_index: "setBarsIndex",
        mode_index: "setModeIndex", tempo: "setTempo", stems: "setStems", midi: "setMidi",
    };
    const methods = {drop_midi: "dropMidi", drop_stems: "dropStems"};
    for (const [name, ...args] of scenario.actions || []) {
        if (name === "ready") {
            live.ready = true;
            device.onReady();
        } else if (name === "advance") {
            clock += args[0];
        } else if (name === "tick") {
            device.pingTick();
        } else if (name === "osc") {
            device.onOsc(args[0], args.slice(1));
        } else if (name === "take_a" || name === "take_b") {
            device.takeSeed(name.slice(-1));
        } else if (name in setters) {
            device[setters[name]](args[0]);
        } else if (name in methods) {
            device[methods[name]]();
        } else if (typeof device[name] === "function") {
            device[name].apply(device, args);
        } else {
            throw new Error("unknown action " + name);
        }
    }
    out.clips = live.clips;
    out.midi_clips = live.midiClips.map((c) => ({track: c.track, slot: c.slot, length: c.length,
                                                  notes: c.notes, name: c.name}));
    out.tracks = live.tracks.map((t) => ({type: t.type, name: t.name}));
    out.scenes = live.sceneCount();
    out.live_errors = live.errors;
    out.violations = live.violations;
    return out;
}

// Pure functions can be called directly: {"call": "chooseSlot", "args": [[true, false], 0]}.
function main() {
    const scenario = JSON.parse(fs.readFileSync(0, "utf8"));
    let result;
    if (scenario.call) {
        const fn = beatgan[scenario.call];
        if (typeof fn !== "function") throw new Error("no exported function " + scenario.call);
        result = {value: fn.apply(null, scenario.args || [])};
    } else {
        result = run(scenario);
    }
    process.stdout.write(JSON.stringify(result));
}

main();
