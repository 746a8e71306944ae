"""The local stack: the synthesized template provisioned in moto, the real handlers hosted in-process,
the Agora emulator, a local JWT issuer and an HTTP server speaking API Gateway's payload v2.
"""
