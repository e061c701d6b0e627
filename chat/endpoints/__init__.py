"""Where model APIs come from: the server's and users' endpoints, their keys (encrypted), the catalog."""
