"""Token minting: an authenticated caller gets Agora RTC (and optionally RTM) tokens for a stable uid."""
