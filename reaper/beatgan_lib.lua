-- beatgan_lib.lua: shared code of the BeatGAN ReaScripts (Lua 5.3 in REAPER 6, 5.4 in REAPER 7).
--
-- The scripts load it from their own folder; keep the four files together:
--   beatgan_insert_newest.lua     insert the newest loop at the edit cursor on the selected track
--   beatgan_generate_insert.lua   ask the daemon for a loop (a MIDI note), insert it when it lands
--   beatgan_settings.lua          set the watched folder, the MIDI output and the note
--
-- Settings live in REAPER's ExtState section "BeatGAN" (kept across restarts):
--   folder     the daemon's watched folder (beatgan serve --out); default: the folder the
--              daemon noted when it last started (see M.folder_note_path), else ~/Music/BeatGAN
--   midi_out   name (or part of it) of the MIDI output that reaches the daemon, default BeatGAN
--   note       MIDI note sent by beatgan_generate_insert.lua, default 60 (any note outside the
--              seed-slot octave 36-47 asks for a loop from a fresh random seed; see docs/midi.md)
--   timeout_s  how long beatgan_generate_insert.lua waits for the loop, default 30

local M = {}

M.SECTION = "BeatGAN"
M.DEFAULTS = {midi_out = "BeatGAN", note = "60", timeout_s = "30"}
-- "Track: Set first selected track as last touched track": InsertMedia adds to that track.
M.CMD_LAST_TOUCHED_FROM_SELECTED = 40914
M.INSERT_ADD_TO_CURRENT_TRACK = 0

-- The daemon names loops beatgan[_tag]_128bpm_s42_1bar_20250101-120000-123[-2].wav (local time,
-- milliseconds, then a counter when two loops share a millisecond) and writes them atomically
-- under hidden ".beatgan-*.part" names, so a listed .wav is always complete. REAPER gives scripts
-- no file times, so "newest" is read from the name.
function M.stamp_key(name)
  if not name:match("^beatgan_.*%.[wW][aA][vV]$") then return nil end
  local date, time, ms, rest = name:match("_(%d%d%d%d%d%d%d%d)%-(%d%d%d%d%d%d)%-(%d%d%d)(.-)%.[wW][aA][vV]$")
  if not date then return nil end
  local counter = rest:match("^%-(%d+)$") or (rest == "" and "0") or nil
  if not counter then return nil end
  return string.format("%s%s%s%06d", date, time, ms, tonumber(counter))
end

function M.newest(names)
  local best, best_key = nil, nil
  for _, name in ipairs(names) do
    local key = M.stamp_key(name)
    if key and (best_key == nil or key > best_key) then best, best_key = name, key end
  end
  return best
end

function M.join(folder, name)
  if folder:match("[/\\]$") then return folder .. name end
  local sep = folder:match("\\") and not folder:match("/") and "\\" or "/"
  return folder .. sep .. name
end

-- Every loop file name in the folder. fileindex -1 makes REAPER re-read the folder instead of
-- answering from its cache (which would hide a loop written a moment ago).
function M.loop_files(folder)
  local names = {}
  reaper.EnumerateFiles(folder, -1)
  local i = 0
  while true do
    local name = reaper.EnumerateFiles(folder, i)
    if not name then break end
    if M.stamp_key(name) then names[#names + 1] = name end
    i = i + 1
  end
  return names
end

-- The daemon notes its loop folder (its --out, or BeatGAN in your music folder) in folder.txt
-- in its user data folder each time it starts (bridge/settings.py folder_note_path); the
-- scripts read it there, so they and the daemon agree without a setting.
function M.folder_note_path()
  local os_name = (reaper.GetOS and reaper.GetOS()) or ""
  local home = os.getenv("HOME") or os.getenv("USERPROFILE") or ""
  if os_name:match("^Win") or package.config:sub(1, 1) == "\\" then
    local base = os.getenv("LOCALAPPDATA") or M.join(M.join(home, "AppData"), "Local")
    return M.join(M.join(M.join(base, "beatgan"), "beatgan"), "folder.txt")
  elseif os_name:match("^OSX") or os_name:match("^macOS") then
    return M.join(M.join(M.join(home, "Library"), "Application Support"), "beatgan") .. "/folder.txt"
  end
  local data = os.getenv("XDG_DATA_HOME")
  if data == nil or data == "" then data = M.join(M.join(home, ".local"), "share") end
  return M.join(M.join(data, "beatgan"), "folder.txt")
end

-- The daemon's folder as it noted it, or nil when it has not run on this computer yet.
function M.noted_folder()
  local f = io.open(M.folder_note_path(), "r")
  if not f then return nil end
  local line = f:read("l")
  f:close()
  if line == nil then return nil end
  line = line:gsub("%s+$", "")
  if line == "" then return nil end
  return line
end

function M.default_folder()
  local noted = M.noted_folder()
  if noted then return noted end
  local home = os.getenv("HOME") or os.getenv("USERPROFILE") or ""
  return M.join(M.join(home, "Music"), "BeatGAN")
end

function M.get(key)
  local value = reaper.GetExtState(M.SECTION, key)
  if value == nil or value == "" then
    if key == "folder" then return M.default_folder() end
    return M.DEFAULTS[key]
  end
  return value
end

-- A whole number from text, or nil ("60", "60.0" -> 60; "6.5", "x", nil -> nil).
function M.whole(text)
  local n = tonumber(text)
  if n == nil or n ~= math.floor(n) then return nil end
  return math.floor(n)
end

function M.set(key, value)
  reaper.SetExtState(M.SECTION, key, tostring(value), true)
end

function M.say(text)
  reaper.ShowConsoleMsg("BeatGAN: " .. text .. "\n")
end

function M.fail(text)
  reaper.ShowMessageBox(text, "BeatGAN", 0)
  return false, text
end

-- Index of the MIDI output whose name contains `want` (case-insensitive), or nil and the names
-- seen, for the error message.
function M.find_midi_output(want)
  local seen = {}
  local lower = want:lower()
  for dev = 0, reaper.GetNumMIDIOutputs() - 1 do
    local present, name = reaper.GetMIDIOutputName(dev, "")
    if present and name ~= "" then
      seen[#seen + 1] = name
      if name:lower():find(lower, 1, true) then return dev, seen end
    end
  end
  return nil, seen
end

-- Where the loop goes: the first selected track at the edit cursor (the play cursor's position
-- does not matter). Returns track, position or nil, reason.
function M.target()
  local track = reaper.GetSelectedTrack(0, 0)
  if not track then return nil, "Select the track that should receive the loop first." end
  return track, reaper.GetCursorPosition()
end

local function item_source_file(item)
  local take = reaper.GetActiveTake(item)
  if not take then return nil end
  local source = reaper.GetMediaItemTake_Source(take)
  if not source then return nil end
  return reaper.GetMediaSourceFileName(source, "")
end

local function same_file(a, b)
  if not a or not b then return false end
  return a:gsub("\\", "/"):lower() == b:gsub("\\", "/"):lower()
end

-- Insert `path` on `track` at `position` (seconds) with InsertMedia, as one undo step, and
-- check it landed there. Returns the new item, or nil and a reason.
function M.insert_loop(path, track, position)
  if not reaper.file_exists(path) then return nil, "The file is gone: " .. path end
  reaper.Undo_BeginBlock()
  reaper.PreventUIRefresh(1)
  reaper.SetOnlyTrackSelected(track)
  reaper.Main_OnCommand(M.CMD_LAST_TOUCHED_FROM_SELECTED, 0)
  reaper.SetEditCurPos(position, false, false)
  local before = reaper.CountTrackMediaItems(track)
  reaper.InsertMedia(path, M.INSERT_ADD_TO_CURRENT_TRACK)
  local found = nil
  for i = 0, reaper.CountTrackMediaItems(track) - 1 do
    local item = reaper.GetTrackMediaItem(track, i)
    if same_file(item_source_file(item), path)
        and math.abs(reaper.GetMediaItemInfo_Value(item, "D_POSITION") - position) < 1e-6 then
      found = item
    end
  end
  reaper.PreventUIRefresh(-1)
  reaper.UpdateArrange()
  local name = path:match("([^/\\]+)$")
  reaper.Undo_EndBlock("BeatGAN: insert " .. name, -1)
  if not found or reaper.CountTrackMediaItems(track) <= before then
    return nil, "REAPER did not insert " .. name .. " (is it a readable WAV?)"
  end
  return found
end

return M
