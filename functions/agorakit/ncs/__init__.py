"""Agora's Notification Center Service (NCS): webhook signatures and event models."""
