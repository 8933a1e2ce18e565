"""The read-only project dashboard: signed, expiring links (`links`), the page (`routes`, `templates/`)."""
