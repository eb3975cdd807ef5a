-- BeatGAN: ask the daemon for a new loop and insert it at the edit cursor on the selected track.
--
-- Sends one MIDI note to the daemon's MIDI input (the "BeatGAN" port it creates on macOS and
-- Linux, or your loopMIDI port on Windows, enabled as a MIDI output in REAPER's preferences),
-- then watches the folder and inserts the first new loop that appears. The track and position
-- are taken when you run the script, so you can keep working while the loop is made.
-- Needs beatgan_lib.lua in the same folder. Settings: run beatgan_settings.lua.

local dir = ({reaper.get_action_context()})[2]:match("^(.*[/\\])") or ""
local lib = dofile(dir .. "beatgan_lib.lua")

local NOTE_ON, NOTE_OFF, VELOCITY = 0x90, 0x80, 100
local EXTERNAL_MIDI_DEVICE = 16   -- StuffMIDIMessage mode 16 + n: send to MIDI output n

local function main()
  local track, position = lib.target()
  if not track then return lib.fail(position) end
  local folder = lib.get("folder")
  local want = lib.get("midi_out")
  local note = lib.whole(lib.get("note")) or 60
  local timeout = tonumber(lib.get("timeout_s")) or 30
  local dev, seen = lib.find_midi_output(want)
  if not dev then
    return lib.fail("No enabled MIDI output named like \"" .. want .. "\" (outputs: "
      .. (#seen > 0 and table.concat(seen, ", ") or "none") .. ").\n\nStart `beatgan serve`, "
      .. "then enable its port under Preferences > Audio > MIDI Devices (Outputs), or set the "
      .. "output's name with beatgan_settings.lua.")
  end
  local before = {}
  for _, name in ipairs(lib.loop_files(folder)) do before[name] = true end

  reaper.StuffMIDIMessage(EXTERNAL_MIDI_DEVICE + dev, NOTE_ON, note, VELOCITY)
  reaper.StuffMIDIMessage(EXTERNAL_MIDI_DEVICE + dev, NOTE_OFF, note, 0)
  lib.say("asked for a loop (note " .. note .. "), watching " .. folder)

  local started = reaper.time_precise()
  local next_look = started
  local function wait()
    local now = reaper.time_precise()
    if now >= next_look then
      next_look = now + 0.2   -- a folder listing 5 times a second is plenty
      local fresh = {}
      for _, name in ipairs(lib.loop_files(folder)) do
        if not before[name] then fresh[#fresh + 1] = name end
      end
      if #fresh > 0 then
        local path = lib.join(folder, lib.newest(fresh))
        local item, reason = lib.insert_loop(path, track, position)
        if not item then return lib.fail(reason) end
        lib.say(string.format("inserted %s after %.1f s", path, now - started))
        return
      end
      if now - started > timeout then
        return lib.fail(string.format("No new loop in %s after %g s.\n\nIs `beatgan serve` "
          .. "running with its MIDI input on, and writing to this folder?", folder, timeout))
      end
    end
    reaper.defer(wait)
  end
  wait()
  return true
end

main()
