"""Events for apps: every recording and channel fact, published to the stack's EventBridge bus once it is durable.

``model`` holds the typed ``detail`` of each event and the envelope; one module per source turns a stream
record's old/new images into events (``recordings``, ``media``, ``presence``, ``moderation``; ``projects`` for
the certificate rotation, sent by the projects function after its secret write); ``publisher`` is the stream
handler and ``bus`` the PutEvents adapter. docs/events.md is the contract.
"""
