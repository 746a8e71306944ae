"""What every kind of channel task shares (a server-side bot Agora runs in a channel: a recorder, a
Conversational AI agent, a real-time transcriber): the bot uid ranges (``botuids``), the name-keyed
idempotent start and its resolution by listing (``starting``), the lifecycle rules for advisory NCS
events (``lifecycle``) and the wake-up schedule of token renewal and the hard maximum (``schedule``).

Pure rules only: no boto3, no httpx, no clock reads. Each capability (``service.agents``,
``service.transcriptions``) keeps its own record, repository and use cases and calls these.
"""
