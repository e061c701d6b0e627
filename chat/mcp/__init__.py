"""FusionRoom as an MCP server: the tools list_panels, fuse and get_run, over stdio and streamable HTTP."""
