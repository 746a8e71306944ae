"""agorakit: the pure domain core of agora-serverless.

Token format, Agora REST client, NCS webhook models and signatures, the m3u8 parser and
Agora's file naming. It imports no boto3 and knows nothing of Lambda, so the CLI
(``python -m agorakit``), the Lambda handlers and the local stack all share it.
Importing this package is cheap: subpackages are imported only when used.
"""

__version__ = "0.1.0"
