"""Live transcription (Agora Real-Time STT v7): a transcription record per channel, its agent started by a unique
name (adopted after a 409 or an ambiguous 504), updated with an atomically increased ``sequenceId``, stopped,
moved by NCS product 20 in order, and restarted before Agora's 72-hour limit. See docs/transcriptions.md."""
