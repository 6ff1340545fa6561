"""Process plumbing shared by every pnil process: settings, logging, database access."""
