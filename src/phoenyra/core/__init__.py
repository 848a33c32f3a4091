"""The pure trading core: no sockets, no database, no clock reads (time is passed in)."""
