-- BeatGAN: set the watched folder, the MIDI output and the note the other scripts use.
-- Needs beatgan_lib.lua in the same folder.

local dir = ({reaper.get_action_context()})[2]:match("^(.*[/\\])") or ""
local lib = dofile(dir .. "beatgan_lib.lua")

local KEYS = {"folder", "midi_out", "note", "timeout_s"}
local CAPTIONS = "Watched folder (beatgan serve --out):,MIDI output name (contains):,"
  .. "Note (0-127; 36-47 = seed slots):,Wait for a loop (s):,extrawidth=300"

local function main()
  local current = {}
  for i, key in ipairs(KEYS) do current[i] = lib.get(key) end
  -- GetUserInputs separates fields with commas, so a value may not contain one.
  local ok, csv = reaper.GetUserInputs("BeatGAN settings", #KEYS, CAPTIONS, table.concat(current, ","))
  if not ok then return false end
  local values = {}
  for value in (csv .. ","):gmatch("([^,]*),") do values[#values + 1] = value end
  local note = lib.whole(values[3])
  local timeout = tonumber(values[4])
  if #values ~= #KEYS then return lib.fail("Expected " .. #KEYS .. " fields, got " .. #values .. ".") end
  if values[1] == "" then return lib.fail("The folder may not be empty.") end
  if not note or note < 0 or note > 127 then return lib.fail("The note must be a whole number 0-127, got " .. values[3]) end
  if not timeout or timeout <= 0 then return lib.fail("The wait must be a positive number of seconds, got " .. values[4]) end
  for i, key in ipairs(KEYS) do lib.set(key, values[i]) end
  lib.say("settings saved: folder " .. values[1] .. ", MIDI output " .. values[2]
    .. ", note " .. note .. ", wait " .. timeout .. " s")
  return true
end

main()
