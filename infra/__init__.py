"""The CDK app: one construct per capability, composed by ``infra.stack.AgoraServerlessStack``."""
