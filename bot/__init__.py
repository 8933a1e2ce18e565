"""Tandem: the application shell (settings, web app, CLI, inbox/outbox, platform adapters)."""
