"""RTC presence: who is in which channel according to NCS events (productId 1).

The webhook processor writes it (``logic.apply_rtc_event``), the channels API reads it
(``logic.member_view``, ``repository.DynamoDBPresence.channel_items``).
"""
