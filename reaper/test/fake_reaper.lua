-- Runs a BeatGAN ReaScript outside REAPER against a fake `reaper` API, for tests/test_reaper.py.
--
--   lua5.4 reaper/test/fake_reaper.lua scenario.lua      prints one JSON object
--
-- scenario.lua returns a table:
--   script        path of the ReaScript to run
--   ext           {key = value} preset in the ExtState section "BeatGAN"
--   tracks        number of tracks (default 2); selected = {1-based track numbers}
--   last_touched  1-based track REAPER treats as current before the script runs (default 1)
--   cursor        edit cursor, seconds (default 0)
--   midi_outputs  {"name", ...}: MIDI outputs 0..n-1, all enabled
--   user_inputs   {ok = true, csv = "..."}: what the GetUserInputs dialog answers
--   appear        {after_defers = n, name = "beatgan_...wav", from = "/path/of/a/wav"}: a loop
--                 the "daemon" writes into the folder after n deferred calls
--   unreadable    {"name.wav", ...}: files InsertMedia refuses
-- The fake keeps what the docs say REAPER does: EnumerateFiles answers from a cached listing
-- unless fileindex -1 refreshed it, InsertMedia adds to the last touched track at the edit
-- cursor, StuffMIDIMessage mode 16+n goes to MIDI output n.

local scenario = dofile(arg[1])

local state = {
  items = {}, messages = {}, console = {}, midi = {}, undo = {}, ext = {},
  defers = 0, refreshed = 0, ui_refresh = 0,
}
for k, v in pairs(scenario.ext or {}) do state.ext[k] = v end
local ntracks = scenario.tracks or 2
local tracks = {}
for i = 1, ntracks do
  tracks[i] = {index = i, selected = false, name = "", folder_depth = 0}
  state.items[i] = {}
end
for _, i in ipairs(scenario.selected or {}) do tracks[i].selected = true end
local last_touched = scenario.last_touched or 1
local cursor = scenario.cursor or 0.0
local clock = 100.0
local pending_defer = nil
local cache = {}

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function list_dir(folder)
  local names = {}
  local p = io.popen('ls -1A "' .. folder .. '" 2>/dev/null')
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

local function copy(src, dst)
  local data = "RIFF"
  if src then
    local f = assert(io.open(src, "rb"))
    data = f:read("a")
    f:close()
  end
  local f = assert(io.open(dst, "wb"))
  f:write(data)
  f:close()
end

local unreadable = {}
for _, name in ipairs(scenario.unreadable or {}) do unreadable[name] = true end

local items_by_handle = {}

reaper = {
  get_action_context = function()
    return false, scenario.script, 0, 1, -1, -1, -1
  end,
  GetExtState = function(section, key)
    assert(section == "BeatGAN", "unexpected ExtState section " .. tostring(section))
    return state.ext[key] or ""
  end,
  SetExtState = function(section, key, value, persist)
    assert(section == "BeatGAN" and persist == true, "settings must persist")
    state.ext[key] = value
  end,
  GetUserInputs = function(title, n, captions, defaults)
    state.dialog = {title = title, n = n, captions = captions, defaults = defaults}
    local answer = scenario.user_inputs or {ok = false, csv = ""}
    return answer.ok, answer.csv
  end,
  ShowMessageBox = function(msg, title, kind)
    state.messages[#state.messages + 1] = msg
    return 1
  end,
  ShowConsoleMsg = function(msg) state.console[#state.console + 1] = msg end,
  EnumerateFiles = function(folder, index)
    if index == -1 or cache[folder] == nil then
      cache[folder] = list_dir(folder)
      if index == -1 then state.refreshed = state.refreshed + 1 return nil end
    end
    return cache[folder][index + 1]
  end,
  file_exists = file_exists,
  GetSelectedTrack = function(proj, i)
    local n = 0
    for _, t in ipairs(tracks) do
      if t.selected then
        if n == i then return t end
        n = n + 1
      end
    end
    return nil
  end,
  SetOnlyTrackSelected = function(track)
    for _, t in ipairs(tracks) do t.selected = (t == track) end
  end,
  Main_OnCommand = function(cmd, flag)
    if cmd == 40914 then
      local first = reaper.GetSelectedTrack(0, 0)
      if first then last_touched = first.index end
    else
      error("unexpected action " .. tostring(cmd))
    end
  end,
  GetCursorPosition = function() return cursor end,
  CountTracks = function(proj) return #tracks end,
  GetTrack = function(proj, i) return tracks[i + 1] end,
  InsertTrackAtIndex = function(i, defaults)
    assert(i >= 0 and i <= #tracks, "InsertTrackAtIndex out of range: " .. tostring(i))
    table.insert(tracks, i + 1, {selected = false, name = "", folder_depth = 0})
    table.insert(state.items, i + 1, {})
    for k, t in ipairs(tracks) do t.index = k end
    if last_touched > i then last_touched = last_touched + 1 end
  end,
  GetSetMediaTrackInfo_String = function(track, key, value, set)
    assert(key == "P_NAME", "unexpected track string " .. key)
    if set then track.name = value end
    return true, track.name
  end,
  SetMediaTrackInfo_Value = function(track, key, value)
    assert(key == "I_FOLDERDEPTH", "unexpected track value " .. key)
    track.folder_depth = value
    return true
  end,
  GetMediaTrackInfo_Value = function(track, key)
    assert(key == "IP_TRACKNUMBER", "unexpected track value " .. key)
    return track.index
  end,
  SetEditCurPos = function(t, moveview, seekplay) cursor = t end,
  InsertMedia = function(file, mode)
    assert(mode == 0, "the scripts add to the current track (mode 0), got " .. tostring(mode))
    local name = file:match("([^/\\]+)$")
    if not file_exists(file) or unreadable[name] then return 0 end
    local item = {file = file, position = cursor, track = last_touched}
    local list = state.items[last_touched]
    list[#list + 1] = item
    items_by_handle[item] = true
    cursor = cursor + 2.0   -- REAPER moves the cursor past the new item
    return 1
  end,
  CountTrackMediaItems = function(track) return #state.items[track.index] end,
  GetTrackMediaItem = function(track, i) return state.items[track.index][i + 1] end,
  GetActiveTake = function(item) return {item = item} end,
  GetMediaItemTake_Source = function(take) return {file = take.item.file} end,
  GetMediaSourceFileName = function(source, buf) return source.file end,
  GetMediaItemInfo_Value = function(item, key)
    assert(key == "D_POSITION", "unexpected item key " .. key)
    return item.position
  end,
  Undo_BeginBlock = function() state.undo[#state.undo + 1] = "begin" end,
  Undo_EndBlock = function(desc, flags) state.undo[#state.undo + 1] = desc end,
  PreventUIRefresh = function(n) state.ui_refresh = state.ui_refresh + n end,
  UpdateArrange = function() end,
  GetNumMIDIOutputs = function() return #(scenario.midi_outputs or {}) end,
  GetMIDIOutputName = function(dev, buf)
    local name = (scenario.midi_outputs or {})[dev + 1]
    return name ~= nil, name or ""
  end,
  StuffMIDIMessage = function(mode, m1, m2, m3)
    state.midi[#state.midi + 1] = {mode, m1, m2, m3}
  end,
  time_precise = function() return clock end,
  GetOS = function() return scenario.os or "Other" end,
  defer = function(fn)
    assert(pending_defer == nil, "one deferred call at a time")
    pending_defer = fn
  end,
}

dofile(scenario.script)

-- REAPER calls a deferred function again about 30 times a second.
local max_defers = scenario.max_defers or 2000
while pending_defer and state.defers < max_defers do
  local fn = pending_defer
  pending_defer = nil
  state.defers = state.defers + 1
  clock = clock + 1 / 30
  local appear = scenario.appear
  if appear and state.defers == appear.after_defers then
    copy(appear.from, appear.folder .. "/" .. appear.name)
  end
  fn()
end
state.still_waiting = pending_defer ~= nil
state.last_touched = last_touched
state.cursor = cursor
state.selected = {}
for _, t in ipairs(tracks) do if t.selected then state.selected[#state.selected + 1] = t.index end end

-- A small JSON writer: enough for strings, numbers, booleans and nested tables.
local function encode(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "number" or t == "boolean" then
    return tostring(v)
  elseif t == "nil" then
    return "null"
  elseif t == "table" then
    if next(v) == nil then return "[]" end
    if v[1] ~= nil or #v > 0 then
      local parts = {}
      for _, x in ipairs(v) do parts[#parts + 1] = encode(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = encode(k) .. ":" .. encode(v[k] == nil and v[tonumber(k)] or v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode " .. t)
end

-- items as {track = {{file, position}, ...}} keyed by track number; tracks as they are now
state.tracks = {}
for i, t in ipairs(tracks) do
  state.tracks[i] = {name = t.name, folder_depth = t.folder_depth}
end
local items = {}
for i = 1, #tracks do
  local list = {}
  for _, it in ipairs(state.items[i]) do list[#list + 1] = {file = it.file, position = it.position} end
  items[tostring(i)] = list
end
state.items = items
io.write(encode(state))
