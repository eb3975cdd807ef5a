-- BeatGAN: insert the newest loop from the watched folder at the edit cursor on the selected track.
-- Needs beatgan_lib.lua in the same folder. Settings: run beatgan_settings.lua.

local dir = ({reaper.get_action_context()})[2]:match("^(.*[/\\])") or ""
local lib = dofile(dir .. "beatgan_lib.lua")

local function main()
  local track, position = lib.target()
  if not track then return lib.fail(position) end
  local folder = lib.get("folder")
  local name = lib.newest(lib.loop_files(folder))
  if not name then
    return lib.fail("No BeatGAN loops in " .. folder .. ".\n\nIs `beatgan serve` writing there "
      .. "(its --out folder)? Run beatgan_settings.lua to point this script at another folder.")
  end
  local path = lib.join(folder, name)
  local item, reason = lib.insert_loop(path, track, position)
  if not item then return lib.fail(reason) end
  lib.say("inserted " .. path)
  return true
end

main()
