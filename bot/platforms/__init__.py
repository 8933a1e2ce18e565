"""Platform adapters: everything platform-specific stays in this package.

Inbound, each adapter verifies and normalises a request into `Incoming`; outbound, each sender
delivers outbox rows (`Reply` payloads) to its platform.
"""
