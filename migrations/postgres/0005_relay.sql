-- Relay mode: the portal's owner lets other Matrix users in the room write through their login
-- (their messages go out prefixed with their name).
ALTER TABLE portals ADD COLUMN relay BOOLEAN NOT NULL DEFAULT FALSE;
