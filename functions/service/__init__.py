"""The Lambda side of agora-serverless: thin handlers, service logic and AWS adapters.

Layout: one subpackage per capability (``tokens``, ``recordings``, ``webhooks``, ``channels``,
``media``), each with ``handler.py`` (Powertools decorators and routing only), ``logic.py``
(the rules), ``repository.py`` (DynamoDB adapter behind a small interface) and ``settings.py``
(one validated settings model read once at cold start). Shared pieces live beside this file.
"""
