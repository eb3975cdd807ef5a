-- BeatGAN: insert the newest loop's pattern (.mid) on a new track and its stems as a folder of
-- tracks, at the edit cursor, below the selected track (or at the end of the project).
--
-- Needs a drum-machine model and a daemon that writes them: `beatgan serve --stems --midi` (or
-- /beatgan/stems 1 and /beatgan/midi 1 over OSC). Next to each loop the daemon writes
--   beatgan_..._123.mid                    the pattern (General MIDI drums, channel 10)
--   beatgan_..._123_stem0-kick.wav ...     one WAV per voice; ..._stem-floor.wav, the noise floor
-- Needs beatgan_lib.lua in the same folder. Settings (the folder): run beatgan_settings.lua.

local dir = ({reaper.get_action_context()})[2]:match("^(.*[/\\])") or ""
local lib = dofile(dir .. "beatgan_lib.lua")

local FOLDER_START, FOLDER_END = 1, -1     -- I_FOLDERDEPTH of a folder's parent / last child

-- The stems of loop `base` (its file name without .wav) among `names`, voices by number, then
-- the floor; and the name each track gets ("kick", "floor").
local function stems_of(base, names)
  local found = {}
  local prefix = base .. "_stem"
  for _, name in ipairs(names) do
    if name:sub(1, #prefix) == prefix and name:match("%.[wW][aA][vV]$") then
      local number, voice = name:sub(#prefix + 1):match("^(%d*)%-(.-)%.[wW][aA][vV]$")
      if voice then
        found[#found + 1] = {name = name, voice = voice, order = tonumber(number) or math.huge}
      end
    end
  end
  table.sort(found, function(a, b) return a.order < b.order end)
  return found
end

local function all_files(folder)
  local names = {}
  reaper.EnumerateFiles(folder, -1)
  local i = 0
  while true do
    local name = reaper.EnumerateFiles(folder, i)
    if not name then break end
    names[#names + 1] = name
    i = i + 1
  end
  return names
end

-- A new track at `index` (0-based), named; returns it.
local function new_track(index, name)
  reaper.InsertTrackAtIndex(index, true)
  local track = reaper.GetTrack(0, index)
  reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
  return track
end

local function main()
  local folder = lib.get("folder")
  local names = all_files(folder)
  local loops = {}
  for _, name in ipairs(names) do
    if lib.stamp_key(name) then loops[#loops + 1] = name end
  end
  local loop = lib.newest(loops)
  if not loop then
    return lib.fail("No BeatGAN loops in " .. folder .. ".\n\nIs `beatgan serve` writing there? "
      .. "Run beatgan_settings.lua to point this script at another folder.")
  end
  local base = loop:gsub("%.[wW][aA][vV]$", "")
  local midi = nil
  for _, name in ipairs(names) do
    if name == base .. ".mid" then midi = lib.join(folder, name) end
  end
  local stems = stems_of(base, names)
  if not midi and #stems == 0 then
    return lib.fail("The newest loop, " .. loop .. ", has no MIDI file or stems.\n\nThey need a "
      .. "drum-machine model and `beatgan serve --stems --midi` (or /beatgan/stems 1 and "
      .. "/beatgan/midi 1 over OSC).")
  end

  local selected = reaper.GetSelectedTrack(0, 0)
  local at = selected and math.floor(reaper.GetMediaTrackInfo_Value(selected, "IP_TRACKNUMBER"))
    or reaper.CountTracks(0)
  local position = reaper.GetCursorPosition()
  local placed, missing = {}, {}

  local function insert(path, track)
    local item = lib.insert_loop(path, track, position)
    if item then placed[#placed + 1] = path else missing[#missing + 1] = path end
  end

  reaper.Undo_BeginBlock()
  if midi then
    insert(midi, new_track(at, "BeatGAN MIDI"))
    at = at + 1
  end
  if #stems > 0 then
    local parent = new_track(at, "BeatGAN stems")
    reaper.SetMediaTrackInfo_Value(parent, "I_FOLDERDEPTH", FOLDER_START)
    for i, stem in ipairs(stems) do
      local track = new_track(at + i, stem.voice)
      if i == #stems then reaper.SetMediaTrackInfo_Value(track, "I_FOLDERDEPTH", FOLDER_END) end
      insert(lib.join(folder, stem.name), track)
    end
  end
  reaper.Undo_EndBlock("BeatGAN: insert the pattern and stems of " .. loop, -1)
  if #missing > 0 then
    return lib.fail("REAPER did not insert " .. table.concat(missing, ", "))
  end
  lib.say(string.format("inserted %s%s of %s", midi and "the MIDI file and " or "",
    #stems .. " stems", loop))
  return true
end

main()
