"""Media: exact durations of Agora's m3u8 playlists as they land in the recordings bucket (S3 -> SQS -> Lambda)."""
