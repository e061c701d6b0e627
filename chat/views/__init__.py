"""The chatroom's views, a module per feature: chat, history, panels, settings, share."""
