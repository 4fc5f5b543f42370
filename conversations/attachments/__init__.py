"""Files customers and agents send in a conversation: images and PDFs (docs/protocol.md, section 7)."""
