"""Every token vector from Agora's official test suites, reproduced byte for byte or parsed and verified.

The vectors (/work/shared/agora/examples/official-token-vectors.json and token-examples.json: inputs with pinned
issue_ts/salt, the exact expected string, intermediate HMAC values) are embedded below so this file runs anywhere;
``test_embedded_copy_matches_the_shared_files`` fails if the shared files change and the copy goes stale.
"""

from __future__ import annotations

import hmac
import json
import struct
import zlib
from binascii import b2a_base64
from pathlib import Path
from typing import Any

import pytest
from agorakit.tokens import (
    AccessToken2,
    ParsedAccessToken2,
    ParsedLegacyToken,
    TokenParseError,
    build_from_spec,
    build_legacy_token,
    build_rtc_rtm_token,
    build_rtc_token,
    build_rtm_token,
    parse_token,
    signing_key,
    verify,
)
from agorakit.tokens.parser import decode_base64, inflate
from agorakit.tokens.services import service_from_spec

SHARED = Path("/work/shared/agora/examples")

# The vectors, one JSON object per line (id, format, kind, builder, inputs, expected, intermediate and, for
# parse_only vectors, official_python3_output); the shared files' "schema" documents every key.
OFFICIAL_VECTORS = r"""
{"id":"007-01-access_token2_extended_services","format":"007","kind":"build","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":3,"name":"streaming","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"stream-account"},{"type":6,"name":"fcdn","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"fcdn-account"}]},"expected":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X","intermediate":{"signature_hex":"dba74a9d12676c977d3f65a56224cb57dba416e99517915cee0ec3144a8f9532","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":416}}
{"id":"007-02-access_token2_extended_services","format":"007","kind":"build","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":8,"name":"rtm2","privileges":{"1":600},"user_id":"test_user","permissions":{"0":{"0":["message-a","message-b"]},"1":{"1":["stream-a"]},"4":{"0":["user-a"]}}}]},"expected":"007eJxTYPj86Lzdz79M25wNn/lMfvu+TkfmdpiviKvChm8ZV3SWndytwGBpbuDsaGyakmpmkGxiYmZimpSUmGqRaGRoamBmmGRs7P5FgCGCiYGBkYGBgRkImYAsEJ8JTCowmKeYGxmbmaYmWVoYm1iYGluapxqnGqdZppiYGSSlpCRyMRhZWBgZmxgamRuzUaSbA6gXopuToSS1uCS+tDi1iJkB4jQmoGBuanFxYnqqbiKCmcTIAIEcDMUlRamJubqJLGD1jAxsDCD9uokAO/VDvQ==","intermediate":{"signature_hex":"f3e2cf3ef9fd02b64331e64c93edef7e2c1cdb564d144520b0f668d42ca6c9bb","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":293}}
{"id":"007-03-access_token2_multi_service","format":"007","kind":"build","builder":"access_token2_multi_service","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"2882341273"},{"type":4,"name":"fpa","privileges":{"1":600}},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"},{"type":7,"name":"apaas","privileges":{"2":600},"room_uuid":"","user_uuid":"2882341273","role":-1}]},"expected":"007eJxTYHh8IPKzTvBdf9ce8bk7G61vs06oca1e815/ot4+x7rfjDIKDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYWIEkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzYyagORCTkEVZ4KKsWOXZgWIQm1HF//8HAL01L5I=","intermediate":{"signature_hex":"e3c059f32c53dd4f458c179db9813bdb05907c457bacef2f912ebe417efb011c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":236}}
{"id":"007-04-access_token2_multi_service","format":"007","kind":"build","builder":"access_token2_multi_service","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"},{"type":4,"name":"fpa","privileges":{"1":600}},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxTYLjhFiNy2/+8zqRJj20tt73SKA2e3/joPVv4761qZnrOyqYKDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYWIAkCIP4TGCSGUyygEkFBvMUcyNjM9PUJEsLYxMLU2NL81TjVOM0yxQTM4OklJRELgYjCwsjYxNDI3NjJqA5EJM4GUpSi0viS4tTi1jggqxwFrImAAIiLHc=","intermediate":{"signature_hex":"d8465c14db4fcf2c9292e33d39b6ea2875539f81e2ef0657fbb526362e432335","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":209}}
{"id":"007-05-access_token2_multi_service","format":"007","kind":"build","builder":"access_token2_multi_service","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxTYPg19dsX8xO2Nys/bpSeoH/0j9CvSs1JWib9291PKC53l85UYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyMDAwAwkWYAYxGcCk8xgkgVMKjCYp5gbGZuZpiZZWhibWJgaW5qnGqcap1mmmJgZJKWkJHIxGFlYGBmbGBqZGzMBzYGYxMlQklpcEl9anFrEChdEVgoAw6ct/Q==","intermediate":{"signature_hex":"fa95f6f437c83dd979f1b11b902fc5fc12fa7929922a348fb747c821a7471b69","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":199}}
{"id":"007-06-access_token2_multi_service","format":"007","kind":"build","builder":"access_token2_multi_service","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"},{"type":7,"name":"apaas","privileges":{"2":600},"room_uuid":"","user_uuid":"2882341273","role":-1}]},"expected":"007eJxTYPhwIyX+i9+qlu/37Lum6OY/e/d3Uu3HbnWtw2trr6m4cHMpMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZGBgYAGSIAziM4FJZjDJAiYVGMxTzI2MzUxTkywtjE0sTI0tzVONU43TLFNMzAySUlISuRiMLCyMjE0MjcyNmYDmQEziZChJLS6JLy1OLWKFCyIrZQeKQaxDFf//HwBHLTNe","intermediate":{"signature_hex":"f0d8645ff44eaa84f7de3f8a942d6fe6eefd927df18b272ac3ad7dd624440b0a","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":225}}
{"id":"007-07-apaas_app_token","format":"007","kind":"build","builder":"apaas_app_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":7,"name":"apaas","privileges":{"3":600},"room_uuid":"","user_uuid":"","role":-1}]},"expected":"007eJxTYJgT3rumdJdoWJpC3aNTb4o76swyLsrHvmznOn/x1cQM9gcKDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGUCYHYiZwXwQ+P8fAADUHTQ=","intermediate":{"signature_hex":"9c578dac75ba155666207ee2caec73887e3668d11f5de9870acfd1ea916807e0","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":98}}
{"id":"007-08-apaas_room_user_token","format":"007","kind":"build","builder":"apaas_room_user_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"2882341273"},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"6063383428a36fba3fb6030becf8094e"},{"type":7,"name":"apaas","privileges":{"1":600},"room_uuid":"123","user_uuid":"2882341273","role":1}]},"expected":"007eJxTYOi6fYVB7qlA2ZWQ+Ko3N2IafQOddj+K4tjh3PS7P2vx4a0KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYmBmYgDQjmM/FYGRhYWRsYmhkbswKF1VgMDMwMza2MDYxskg0NktLSjROSzIzMDZISk1OszCwNEllh6tlZjA0MkY2hpEBANqIKYQ=","intermediate":{"signature_hex":"8adbd4001ee51076d4545f7aecd85c814d5142bbe25a08b84382fb8f6aa3c3b5","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":177}}
{"id":"007-09-apaas_user_token","format":"007","kind":"build","builder":"apaas_user_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":7,"name":"apaas","privileges":{"2":600},"room_uuid":"","user_uuid":"2882341273","role":-1}]},"expected":"007eJxTYEg4e9Zj9gch+QkfFi1qM7tdkn1G3Kzt6FTJpTpzRQ4brixTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyADC7EDMBOYzMHAxGFlYGBmbGBqZG///DwDuNR56","intermediate":{"signature_hex":"60cdcd489bf0121f90f0a2a28636db746bcc173686c59519a52c9d14c331a976","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":108}}
{"id":"007-10-chat_app_token","format":"007","kind":"build","builder":"chat_app_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":5,"name":"chat","privileges":{"2":600},"user_id":""}]},"expected":"007eJxTYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGRAYRZgZgJzGdgAACt8hhr","intermediate":{"signature_hex":"2d6e85c3436f1811bc2c43173bf34eaa047d5e896abd4ef54c654110c0fade50","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":94}}
{"id":"007-11-chat_user_token","format":"007","kind":"build","builder":"chat_user_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyADCrEDMCOZzMRhZWBgZmxgamRsDAB+lHrg=","intermediate":{"signature_hex":"28523b422bbfe03ceee4d0caef59d686fe2518eb70077dda27cdfcd448ff64ae","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":104}}
{"id":"007-12-rtc_rtm_token","format":"007","kind":"build","builder":"rtc_rtm_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"}]},"expected":"007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYmIAkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzY5BZEJM4GUpSi0viS4tTiwAipyp4","intermediate":{"signature_hex":"0812393ccca5befc2bb6fbd30269cac4506368877e946d988b5562a77cd42441","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":177}}
{"id":"007-13-rtc_token_with_uid","format":"007","kind":"build","builder":"rtc_token_with_uid","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""}]},"expected":"007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo=","intermediate":{"signature_hex":"dcc4af9e4a04268e083f1fecd1daf9be33c860de592d6a2ca2b0306b9603633c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":128}}
{"id":"007-14-rtc_token_with_uid","format":"007","kind":"build","builder":"rtc_token_with_uid","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"}]},"expected":"007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj","intermediate":{"signature_hex":"16a0b84c5a5e82cbf74fb813d09f59c54bdac9c06120580539ac97578e958b1a","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":138}}
{"id":"007-15-rtm_token","format":"007","kind":"build","builder":"rtm_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"}]},"expected":"007eJxTYOCdJftjyTM2zxW6Xhm/5T0j5LdcUt/xYVt48fb5Mp3PX9coMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJiBmBPM5GUpSi0viS4tTiwBZVh6A","intermediate":{"signature_hex":"0d9a1df8a4e60649a82d4a68fb1f49581fb4d227b8f0b65773b79f1c89e7eb7c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":103}}
{"id":"007-16-rtm_token","format":"007","kind":"build","builder":"rtm_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxTYEhuZrAR/XT+XPihI+6t4t5F9RtUltw9em3Pwi2sr6P/lAspMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJiBmBPO5GIwsLIyMTQyNzI0BndAdKg==","intermediate":{"signature_hex":"6383003c15f2cfce57c2c44785174b727fb024a4ddc5d6bca1b405eb5bfc7712","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":104}}
{"id":"007-17-access_token2_extended_services","format":"007","kind":"parse_only","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":3,"name":"streaming","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"stream-account"},{"type":6,"name":"fcdn","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"fcdn-account"}]},"expected":"007eAFTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X","intermediate":{"signature_hex":"dba74a9d12676c977d3f65a56224cb57dba416e99517915cee0ec3144a8f9532","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":416},"official_python3_output":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X"}
{"id":"007-18-access_token2_extended_services","format":"007","kind":"parse_only","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":3,"name":"streaming","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"stream-account"},{"type":6,"name":"fcdn","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"fcdn-account"}]},"expected":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwMzAyMIL5CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxiB9TETqY2BgZmCC2kKsHj6G4pKi1MRc3cTk5PzSvBI2Mt3JRpI72Uh2Jw9DWnJKHsyVAElvX1c=","intermediate":{"signature_hex":"dba74a9d12676c977d3f65a56224cb57dba416e99517915cee0ec3144a8f9532","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":416},"official_python3_output":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X"}
{"id":"007-19-access_token2_extended_services","format":"007","kind":"parse_only","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":3,"name":"streaming","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"stream-account"},{"type":6,"name":"fcdn","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"fcdn-account"}]},"expected":"007eJxSYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwMzAyMIL5CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxiB9TETqY2BgZmCC2kKsHj6G4pKi1MRc3cTk5PzSvBI2Mt3JRpI72Uh2Jw9DWnJKHsyVgAAAAP//SW9fVw==","intermediate":{"signature_hex":"dba74a9d12676c977d3f65a56224cb57dba416e99517915cee0ec3144a8f9532","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":416},"official_python3_output":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X"}
{"id":"007-20-access_token2_extended_services","format":"007","kind":"parse_only","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":3,"name":"streaming","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"stream-account"},{"type":6,"name":"fcdn","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"fcdn-account"}]},"expected":"007eJydjjsKwkAURZ8RUogEEdE2ha2QzJtfKhELwQ1oYTOTGW38gJ/SNYhFsLJTXIilS8gKbKxcgB+0N1aXWxzO8SE9dffl0Xi3btqjrl966aF6TWrbwc07V7qbhPgQiaDdQmYsD2JKOWVaKysVCVnAQ43YuZeg7wDkAMCF/HNz7++DMIIgZ1ZHEqlkGAmLFoeRoTzQxqgCECkJ0pAIfHHOjxw8Lc7H8ivjwWI5t2rSUHE8W02X7p+dbqZON3NnEYaxmX4rH0lvX1c=","intermediate":{"signature_hex":"dba74a9d12676c977d3f65a56224cb57dba416e99517915cee0ec3144a8f9532","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":416},"official_python3_output":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X"}
{"id":"007-21-access_token2_extended_services","format":"007","kind":"parse_only","builder":"access_token2_extended_services","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":3,"name":"streaming","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":3,"name":"streaming","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":3,"name":"streaming","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"stream-account"},{"type":6,"name":"fcdn","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":6,"name":"fcdn","privileges":{"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""},{"type":6,"name":"fcdn","privileges":{"1":600,"2":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"fcdn-account"}]},"expected":"007eJydjjsOAVEYRn8jmUJERIR2Cq1k5v73NZWIQmIDFJp7514aj8SjtAZRiEpHLERpCbMCjcoCDKGfUX35ipNzPIgvvWNlPDlsWvasG7d+fKrd9/Xd8FG6VnvbPfEgFH6njcxY7keUcsq0VlYqEjCfBxqx+yzDwAHIAYAL+WRzn++BMIIgZ1aHEqlkGAqLFkehodzXxqgCECkJ0oAIfHNOSg4Si/O1pGVKsFwtrJo2VRTN17OV+2enm6nTzdxZhFFkZr/KF0lvX1c=","intermediate":{"signature_hex":"dba74a9d12676c977d3f65a56224cb57dba416e99517915cee0ec3144a8f9532","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":416},"official_python3_output":"007eJxTYLi93GuuUHrO9Fr71KVJKqfDby8RezlVfGLMO77DIl79U40UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwsDEwA2lGMF+BwTzF3MjYzDQ1ydLC2MTC1NjSPNU41TjNMsXEzCApJSWRi8HIwsLI2MTQyNwYpI+JSH0MQFuYoLYQq4ePobikKDUxVzcxOTm/NK+EjUx3spHkTjaS3cnDkJackgdzJQBJb19X"}
{"id":"007-22-access_token2_multi_service","format":"007","kind":"parse_only","builder":"access_token2_multi_service","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxSYJjqLJBlM239wwWvmBZ7tW619coNnPKSXaHayfKzZODswxMVGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwMDMwgiGIr8BgnmJuZGxmmppkaWFsYmFqbGmeapxqnGaZYmJmkJSSksjFYGRhYWRsYmhkbswE18fJUJJaXBJfWpxaxAoXRFYKCAAA///aoiqr","intermediate":{"signature_hex":"9543106a3c96afe1a0ea02a34a85b53d4a6d5194e907207b4239f319519bc391","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":181},"official_python3_output":"007eJxTYJjqLJBlM239wwWvmBZ7tW619coNnPKSXaHayfKzZODswxMVGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMjAwMANJEATxFRjMU8yNjM1MU5MsLYxNLEyNLc1TjVON0yxTTMwMklJSErkYjCwsjIxNDI3MjZng+jgZSlKLS+JLi1OLWOGCyEoB2qIqqw=="}
{"id":"007-23-access_token2_multi_service","format":"007","kind":"parse_only","builder":"access_token2_multi_service","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"},{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxNjD0KwkAUhJ8xFlqJbZpYauNm3/4WFmKRK9hJ1l3B1sQip1AEz2Bt5QmEXMFjCMEiWBgjiMV8MMPwhVCdnqUspvf8cQkOk9trUOWj45jtr3ExPMfBJgQtyXyG3DpBVowJxo1JnEpoxImIDGJc9mHhAbQAoF3Tr/PpXsN2Q79hCNJKioI7oxUyxVFLhw7X2jJBjLVJD6hSFFlEJXq152vqQubSbLlL3bbzG/+vb8OnLf0=","intermediate":{"signature_hex":"fa95f6f437c83dd979f1b11b902fc5fc12fa7929922a348fb747c821a7471b69","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":199},"official_python3_output":"007eJxTYPg19dsX8xO2Nys/bpSeoH/0j9CvSs1JWib9291PKC53l85UYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyMDAwAwkWYAYxGcCk8xgkgVMKjCYp5gbGZuZpiZZWhibWJgaW5qnGqcap1mmmJgZJKWkJHIxGFlYGBmbGBqZGzMBzYGYxMlQklpcEl9anFrEChdEVgoAw6ct/Q=="}
{"id":"007-24-chat_app_token","format":"007","kind":"parse_only","builder":"chat_app_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":5,"name":"chat","privileges":{"2":600},"user_id":""}]},"expected":"007eJxTYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGRAYRZGRgZmMB8BgYArfIYaw==","intermediate":{"signature_hex":"2d6e85c3436f1811bc2c43173bf34eaa047d5e896abd4ef54c654110c0fade50","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":94},"official_python3_output":"007eJxTYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGRAYRZgZgJzGdgAACt8hhr"}
{"id":"007-25-chat_app_token","format":"007","kind":"parse_only","builder":"chat_app_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":5,"name":"chat","privileges":{"2":600},"user_id":""}]},"expected":"007eJxSYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGRAYRZGRgZmMB8BgZAAAAA//+t8hhr","intermediate":{"signature_hex":"2d6e85c3436f1811bc2c43173bf34eaa047d5e896abd4ef54c654110c0fade50","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":94},"official_python3_output":"007eJxTYNDNaz3snC8huEfHWdz6s98qltq4zqy9fl99Uh0FDvy6F6DAYGlu4OxobJqSamaQbGJiZmKalJSYapFoZGhqYGaYZGzs/kWAIYKJgYGRAYRZgZgJzGdgAACt8hhr"}
{"id":"007-26-chat_user_token","format":"007","kind":"parse_only","builder":"chat_user_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyADCrAyMDIxgPheDkYWFkbGJoZG5MQAfpR64","intermediate":{"signature_hex":"28523b422bbfe03ceee4d0caef59d686fe2518eb70077dda27cdfcd448ff64ae","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":104},"official_python3_output":"007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyADCrEDMCOZzMRhZWBgZmxgamRsDAB+lHrg="}
{"id":"007-27-chat_user_token","format":"007","kind":"parse_only","builder":"chat_user_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":5,"name":"chat","privileges":{"1":600},"user_id":"2882341273"}]},"expected":"007eJxSYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyADCrAyMDIxgPheDkYWFkbGJoZG5MSAAAP//H6UeuA==","intermediate":{"signature_hex":"28523b422bbfe03ceee4d0caef59d686fe2518eb70077dda27cdfcd448ff64ae","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":104},"official_python3_output":"007eJxTYNAIsnbS3v/A5t2TC6feR15r+6cq8bqAvfaW+tk/Vzz+p6xTYLA0N3B2NDZNSTUzSDYxMTMxTUpKTLVINDI0NTAzTDI2dv8iwBDBxMDAyADCrEDMCOZzMRhZWBgZmxgamRsDAB+lHrg="}
{"id":"007-28-chat_user_token","format":"007","kind":"parse_only","builder":"chat_user_token","inputs":{"app_id":"f1dc778bddc646ad8f260976ca2d015c","app_certificate":null,"issue_ts":1690361265,"salt":1992588284,"expire":86400,"services":[{"type":5,"name":"chat","privileges":{"1":86400},"user_id":"4ac3bae0-6f9e-11ec-8c27-8dc232279082"}]},"expected":"007eJxTYFDe/EclTsH/38I3/7SO+vMZuAQzPHlqr2Qc6bNUnXmRt6wCQ5phSrK5uUVSSkqymYlZYopFmpGZgaW5WXKiUYqBoWnyxrsHUhoCGRn+VB8pY2RgZWAEQhBfhcEkMdk4KTHVQNcszTJV19AwNVnXItnIXNciJdnI2MjI3NLAwggAHM4nRA==","intermediate":{"signature_hex":"23b3fc245e204ffea1ecfe2ac54f0e30445300e4e53f2233594ca52703a24b1d","decompressed_payload_len":130}}
{"id":"007-29-parse_error_expected","format":"007","kind":"invalid","builder":"parse_error_expected","inputs":null,"expected":"007eJxTYLC/xv0i87343FLb46KrG9gPxT+Vj8pojqvt"}
{"id":"007-30-rtc_rtm_token","format":"007","kind":"parse_only","builder":"rtc_rtm_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"}]},"expected":"007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYmBgYGVgYGMF8JjDJDCZZwKQCg3mKuZGxmWlqkqWFsYmFqbGleapxqnGaZYqJmUFSSkoiF4ORhYWRsYmhkbkxyCyISZwMJanFJfGlxalFACKnKng=","intermediate":{"signature_hex":"0812393ccca5befc2bb6fbd30269cac4506368877e946d988b5562a77cd42441","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":177},"official_python3_output":"007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYmIAkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzY5BZEJM4GUpSi0viS4tTiwAipyp4"}
{"id":"007-31-rtc_token_with_uid","format":"007","kind":"parse_only","builder":"rtc_token_with_uid","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""}]},"expected":"007eJxSYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMgAAAAP//Npwiag==","intermediate":{"signature_hex":"dcc4af9e4a04268e083f1fecd1daf9be33c860de592d6a2ca2b0306b9603633c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":128},"official_python3_output":"007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo="}
{"id":"007-32-rtc_token_with_uid","format":"007","kind":"parse_only","builder":"rtc_token_with_uid","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"}]},"expected":"007eJxSYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxoAAAAD//8JqJOM=","intermediate":{"signature_hex":"16a0b84c5a5e82cbf74fb813d09f59c54bdac9c06120580539ac97578e958b1a","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":138},"official_python3_output":"007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"}
{"id":"007-33-rtc_token_with_uid","format":"007","kind":"parse_only","builder":"rtc_token_with_uid","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"}]},"expected":"007eJwlx6EKQjEUgOGjYDEJgsG0R9h2zrazKAaDgtGrQdg880Gsgk2M+gA+wI0Wg1jMPodglYv8/OFTMLjUs9V69/zO6/7rvLxP349bUlUnXk+Lw3E/VBCDHo/QSfF6Q+TJ5ZwKJ2uc9iYjTj49qNoALWj+11hBkGDRu5IjI7HDGAoW3EYhr7NI6oJltkjGBvwBwmok4w==","intermediate":{"signature_hex":"16a0b84c5a5e82cbf74fb813d09f59c54bdac9c06120580539ac97578e958b1a","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":138},"official_python3_output":"007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj"}
{"id":"007-34-rtm_token","format":"007","kind":"parse_only","builder":"rtm_token","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"}]},"expected":"007eJxSYOCdJftjyTM2zxW6Xhm/5T0j5LdcUt/xYVt48fb5Mp3PX9coMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJgZGBkYwn5OhJLW4JL60OLUIEAAA//9ZVh6A","intermediate":{"signature_hex":"0d9a1df8a4e60649a82d4a68fb1f49581fb4d227b8f0b65773b79f1c89e7eb7c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":103},"official_python3_output":"007eJxTYOCdJftjyTM2zxW6Xhm/5T0j5LdcUt/xYVt48fb5Mp3PX9coMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJiBmBPM5GUpSi0viS4tTiwBZVh6A"}
{"id":"006-35-rtc_token_with_account_006","format":"006","kind":"build","builder":"rtc_token_with_account_006","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","channel_name":"7d72365eb983485397e3e3f9d460bdda","uid":"0","uid_packed":"0","salt":1,"ts":1111111,"privileges":{"1":1446455471}},"expected":"006970CA35de60c44645bbae8a215061b33IABNRUO/126HmzFc+J8lQFfnkssUdUXqiePeE2WNZ7lyubdIfRAh39v0EAABAAAAR/QQAAEAAQCvKDdW","intermediate":{"signature_hex":"4d4543bfd76e879b315cf89f254057e792cb147545ea89e3de13658d67b972b9","crc32_channel":276646071,"crc32_uid":4108050209,"message_hex":"0100000047f4100001000100af283756"}}
{"id":"006-36-rtc_token_with_uid_006","format":"006","kind":"build","builder":"rtc_token_with_uid_006","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","channel_name":"7d72365eb983485397e3e3f9d460bdda","uid":2882341273,"uid_packed":"2882341273","salt":1,"ts":1111111,"privileges":{"1":1446455471}},"expected":"006970CA35de60c44645bbae8a215061b33IACV0fZUBw+72cVoL9eyGGh3Q6Poi8bgjwVLnyKSJyOXR7dIfRBXoFHlEAABAAAAR/QQAAEAAQCvKDdW","intermediate":{"signature_hex":"95d1f654070fbbd9c5682fd7b218687743a3e88bc6e08f054b9f229227239747","crc32_channel":276646071,"crc32_uid":3847331927,"message_hex":"0100000047f4100001000100af283756"}}
{"id":"006-37-rtc_token_with_uid_006","format":"006","kind":"build","builder":"rtc_token_with_uid_006","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","channel_name":"7d72365eb983485397e3e3f9d460bdda","uid":0,"uid_packed":"","salt":1,"ts":1111111,"privileges":{"1":1446455471}},"expected":"006970CA35de60c44645bbae8a215061b33IACw1o7htY6ISdNRtku3p9tjTPi0jCKf9t49UHJhzCmL6bdIfRAAAAAAEAABAAAAR/QQAAEAAQCvKDdW","intermediate":{"signature_hex":"b0d68ee1b58e8849d351b64bb7a7db634cf8b48c229ff6de3d507261cc298be9","crc32_channel":276646071,"crc32_uid":0,"message_hex":"0100000047f4100001000100af283756"}}
{"id":"006-38-rtc_token_with_uid_006","format":"006","kind":"build","builder":"rtc_token_with_uid_006","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","channel_name":"7d72365eb983485397e3e3f9d460bdda","uid":2882341273,"uid_packed":"2882341273","salt":1,"ts":1111111,"privileges":{"1":1446455471,"2":1446455471,"3":1446455471,"4":1446455471}},"expected":"006970CA35de60c44645bbae8a215061b33IACMv3I+fsRSejxy6luEwzA/1t/zbEHWfJCJ5m8ssFP/fLdIfRBXoFHlIgABAAAAR/QQAAQAAQCvKDdWAgCvKDdWAwCvKDdWBACvKDdW","intermediate":{"signature_hex":"8cbf723e7ec4527a3c72ea5b84c3303fd6dff36c41d67c9089e66f2cb053ff7c","crc32_channel":276646071,"crc32_uid":3847331927,"message_hex":"0100000047f4100004000100af2837560200af2837560300af2837560400af283756"}}
{"id":"006-39-rtm_token_006","format":"006","kind":"build","builder":"rtm_token_006","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","channel_name":"test_user","uid":"","uid_packed":"","salt":1,"ts":1111111,"privileges":{"1000":1446455471}},"expected":"006970CA35de60c44645bbae8a215061b33IAAsR0qgiCxv0vrpRcpkz5BrbfEWCBZ6kvR6t7qG/wJIQob86ogAAAAAEAABAAAAR/QQAAEA6AOvKDdW","intermediate":{"signature_hex":"2c474aa0882c6fd2fae945ca64cf906b6df11608167a92f47ab7ba86ff024842","crc32_channel":2297101446,"crc32_uid":0,"message_hex":"0100000047f410000100e803af283756"}}
"""

EXAMPLES = r"""
{"id":"007-12-rtc_rtm_token","format":"007","kind":"build","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600,"2":600,"3":600,"4":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"},{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"}]},"expected":"007eJxTYOAQsrQ5s3TfH+1tvy8zZZ46EpCc0V43JXdGd2jS8porKo4KDJbmBs6OxqYpqWYGySYmZiamSUmJqRaJRoamBmaGScbG7l8EGCKYGBgYGRgYmIAkCxCD+ExgkhlMsoBJBQbzFHMjYzPT1CRLC2MTC1NjS/NU41TjNMsUEzODpJSURC4GIwsLI2MTQyNzY5BZEJM4GUpSi0viS4tTiwAipyp4","intermediate":{"signature_hex":"0812393ccca5befc2bb6fbd30269cac4506368877e946d988b5562a77cd42441","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":177}}
{"id":"007-13-rtc_token_with_uid","format":"007","kind":"build","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""}]},"expected":"007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo=","intermediate":{"signature_hex":"dcc4af9e4a04268e083f1fecd1daf9be33c860de592d6a2ca2b0306b9603633c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":128}}
{"id":"007-14-rtc_token_with_uid","format":"007","kind":"build","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":"2882341273"}]},"expected":"007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj","intermediate":{"signature_hex":"16a0b84c5a5e82cbf74fb813d09f59c54bdac9c06120580539ac97578e958b1a","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":138}}
{"id":"007-15-rtm_token","format":"007","kind":"build","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":2,"name":"rtm","privileges":{"1":600},"user_id":"test_user"}]},"expected":"007eJxTYOCdJftjyTM2zxW6Xhm/5T0j5LdcUt/xYVt48fb5Mp3PX9coMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhJiBmBPM5GUpSi0viS4tTiwBZVh6A","intermediate":{"signature_hex":"0d9a1df8a4e60649a82d4a68fb1f49581fb4d227b8f0b65773b79f1c89e7eb7c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":103}}
{"id":"007-31-rtc_token_with_uid","format":"007","kind":"parse_only","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","issue_ts":1111111,"salt":1,"expire":600,"services":[{"type":1,"name":"rtc","privileges":{"1":600},"channel_name":"7d72365eb983485397e3e3f9d460bdda","uid_or_account":""}]},"expected":"007eJxSYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMgAAAAP//Npwiag==","intermediate":{"signature_hex":"dcc4af9e4a04268e083f1fecd1daf9be33c860de592d6a2ca2b0306b9603633c","signing_key_hex":"cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073","decompressed_payload_len":128}}
{"id":"006-36-rtc_token_with_uid_006","format":"006","kind":"build","inputs":{"app_id":"970CA35de60c44645bbae8a215061b33","app_certificate":"5CFd2fd1755d40ecb72977518be15d3b","channel_name":"7d72365eb983485397e3e3f9d460bdda","uid":2882341273,"uid_packed":"2882341273","salt":1,"ts":1111111,"privileges":{"1":1446455471}},"expected":"006970CA35de60c44645bbae8a215061b33IACV0fZUBw+72cVoL9eyGGh3Q6Poi8bgjwVLnyKSJyOXR7dIfRBXoFHlEAABAAAAR/QQAAEAAQCvKDdW","intermediate":{"signature_hex":"95d1f654070fbbd9c5682fd7b218687743a3e88bc6e08f054b9f229227239747","crc32_channel":276646071,"crc32_uid":3847331927,"message_hex":"0100000047f4100001000100af283756"}}
"""


def _load(blob: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in blob.strip().splitlines()]


def _all() -> list[dict[str, Any]]:
    return _load(OFFICIAL_VECTORS) + _load(EXAMPLES)


def _select(fmt: str, kind: str) -> list[Any]:
    return [pytest.param(v, id=v["id"]) for v in _all() if v["format"] == fmt and v["kind"] == kind]


def _spec(inputs: dict[str, Any]) -> dict[str, Any]:
    """Vector inputs -> a build spec. ``uid_or_account`` is the packed string: "" is uid 0, anything else an
    account (a decimal account packs exactly like the numeric uid)."""
    services = []
    for service in inputs["services"]:
        entry: dict[str, Any] = {"type": service["type"], "privileges": service["privileges"]}
        for key, value in service.items():
            if key == "uid_or_account":
                entry["uid" if service["type"] == 1 else "account"] = 0 if value == "" else value
            elif key not in ("type", "name", "privileges"):
                entry[key] = value
        services.append(entry)
    return {k: inputs[k] for k in ("app_id", "app_certificate", "expire", "issue_ts", "salt")} | {"services": services}


def _as_vector_services(parsed: ParsedAccessToken2) -> list[dict[str, Any]]:
    """Parsed services in the vectors' input notation, to compare field by field."""
    out = []
    for service in parsed.services:
        d = service.to_dict()
        if "uid" in d:
            d["uid_or_account"] = d.pop("uid")
        if d["name"] in ("streaming", "fcdn"):
            d["uid_or_account"] = d.pop("account")
        out.append(d)
    return out


# ------------------------------------------------------------------------------------------------------- 007


@pytest.mark.parametrize("vector", _select("007", "build"))
def test_007_build_vectors_are_byte_identical(vector: dict[str, Any]) -> None:
    assert build_from_spec(_spec(vector["inputs"])) == vector["expected"]


@pytest.mark.parametrize("vector", _select("007", "build"))
def test_007_build_vectors_with_the_general_class(vector: dict[str, Any]) -> None:
    spec = _spec(vector["inputs"])
    token = AccessToken2(
        spec["app_id"], spec["app_certificate"], expire=spec["expire"], issue_ts=spec["issue_ts"], salt=spec["salt"]
    )
    entries = spec["services"]
    # build() sorts services by type, stably: with distinct types the insertion order must not matter; repeated
    # types (007-01) keep their insertion order, as python3 HEAD does.
    distinct = len({e["type"] for e in entries}) == len(entries)
    for index, entry in enumerate(reversed(entries) if distinct else entries):
        token.add_service(service_from_spec(entry, index))
    assert token.build() == vector["expected"]


def _pinned(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "app_id": inputs["app_id"],
        "app_certificate": inputs["app_certificate"],
        "expire": inputs["expire"],
        "issue_ts": inputs["issue_ts"],
        "salt": inputs["salt"],
    }


def _kind(vector: dict[str, Any]) -> str:
    """The logical builder: "rtc_token_with_uid", "rtm_token", ... (the examples file has it only in the id)."""
    return str(vector.get("builder") or vector["id"].split("-", 2)[2])


HIGH_LEVEL = ("rtc_token_with_uid", "rtc_token_with_user_account", "rtm_token", "rtc_rtm_token")


@pytest.mark.parametrize("vector", [p for p in _select("007", "build") if _kind(p.values[0]) in HIGH_LEVEL])
def test_007_vectors_with_the_high_level_builders(vector: dict[str, Any]) -> None:
    """The rtc/rtm vectors through build_rtc_token / build_rtm_token / build_rtc_rtm_token."""
    inputs = vector["inputs"]
    services = {s["name"]: s for s in inputs["services"]}
    rtc, rtm = services.get("rtc"), services.get("rtm")
    if rtc is not None:
        uid: int | str = int(rtc["uid_or_account"] or 0)
        privileges = rtc["privileges"]
        role = "publisher" if len(privileges) == 4 else "subscriber"
        assert len(set(privileges.values())) == 1
        kwargs = _pinned(inputs) | {
            "channel_name": rtc["channel_name"],
            "uid": uid,
            "role": role,
            "privilege_expire": privileges["1"],
        }
        if rtm is None:
            token = build_rtc_token(**kwargs)
        else:
            token = build_rtc_rtm_token(**kwargs, rtm_user_id=rtm["user_id"], rtm_expire=rtm["privileges"]["1"])
    else:
        assert rtm is not None
        token = build_rtm_token(**_pinned(inputs), user_id=rtm["user_id"])
    assert token == vector["expected"]


@pytest.mark.parametrize("vector", _select("007", "build") + _select("007", "parse_only"))
def test_007_vectors_parse_back_to_their_inputs(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    parsed = parse_token(vector["expected"])
    assert isinstance(parsed, ParsedAccessToken2)
    assert parsed.version == "007"
    assert (parsed.app_id, parsed.issue_ts, parsed.expire, parsed.salt) == (
        inputs["app_id"],
        inputs["issue_ts"],
        inputs["expire"],
        inputs["salt"],
    )
    assert parsed.expires_at == inputs["issue_ts"] + inputs["expire"]
    assert parsed.service_count == len(inputs["services"])
    assert _as_vector_services(parsed) == inputs["services"]
    assert parsed.trailing == b""


@pytest.mark.parametrize("vector", _select("007", "build") + _select("007", "parse_only"))
def test_007_vectors_verify(vector: dict[str, Any]) -> None:
    certificate = vector["inputs"]["app_certificate"]
    wrong = "0" * 32
    assert verify(vector["expected"], wrong) is False
    if certificate is None:  # 007-28: a real-world token whose certificate was never published
        assert parse_token(vector["expected"]).signature.hex() == vector["intermediate"]["signature_hex"]
        return
    assert verify(vector["expected"], certificate) is True
    assert parse_token(vector["expected"]).verify(certificate) is True
    assert verify(vector["expected"], certificate.swapcase()) is False  # the certificate is used as ASCII text


@pytest.mark.parametrize("vector", _select("007", "parse_only"))
def test_007_parse_only_vectors_rebuild_to_the_cpython_bytes(vector: dict[str, Any]) -> None:
    """Another language's deflate (or an unknown certificate): the same signed payload, so building from the
    inputs gives what CPython's zlib makes of the inflated payload."""
    inputs = vector["inputs"]
    body = inflate(decode_base64(vector["expected"][3:], "token"))
    cpython = "007" + b2a_base64(zlib.compress(body), newline=False).decode()
    if "official_python3_output" in vector:
        assert cpython == vector["official_python3_output"]
    if inputs["app_certificate"] is not None:
        assert build_from_spec(_spec(inputs)) == cpython
    else:  # 007-28, a real-world token: no certificate, so only the layout can be rebuilt
        assert cpython == vector["expected"]


@pytest.mark.parametrize(
    "vector", [v for v in _select("007", "build") + _select("007", "parse_only") if v.values[0]["intermediate"]]
)
def test_007_intermediate_values(vector: dict[str, Any]) -> None:
    inputs, inter = vector["inputs"], vector["intermediate"]
    parsed = parse_token(vector["expected"])
    assert isinstance(parsed, ParsedAccessToken2)
    body = inflate(decode_base64(vector["expected"][3:], "token"))
    assert len(body) == inter["decompressed_payload_len"]
    assert parsed.signature.hex() == inter["signature_hex"]
    if "signing_key_hex" in inter:
        key = signing_key(inputs["app_certificate"], inputs["issue_ts"], inputs["salt"])
        assert key.hex() == inter["signing_key_hex"]
        # the chain spelled out with the standard library, independently of our helpers
        k1 = hmac.digest(struct.pack("<I", inputs["issue_ts"]), inputs["app_certificate"].encode(), "sha256")
        assert hmac.digest(struct.pack("<I", inputs["salt"]), k1, "sha256") == key
        assert hmac.digest(key, parsed.signing_info, "sha256").hex() == inter["signature_hex"]


@pytest.mark.parametrize("vector", _select("007", "invalid"))
def test_007_invalid_vector_is_rejected(vector: dict[str, Any]) -> None:
    with pytest.raises(TokenParseError, match="truncated"):
        parse_token(vector["expected"])
    assert verify(vector["expected"], "5CFd2fd1755d40ecb72977518be15d3b") is False


def test_there_is_one_invalid_and_every_kind_is_covered() -> None:
    kinds = [v["kind"] for v in _load(OFFICIAL_VECTORS)]
    assert (kinds.count("build"), kinds.count("parse_only"), kinds.count("invalid")) == (21, 17, 1)


# ------------------------------------------------------------------------------------------------------- 006


@pytest.mark.parametrize("vector", _select("006", "build"))
def test_006_build_vectors_are_byte_identical(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    uid = inputs["uid"] if inputs["uid"] != "" else 0  # the RTM builder passes ""; ours takes 0 for "no uid"
    token = build_legacy_token(
        app_id=inputs["app_id"],
        app_certificate=inputs["app_certificate"],
        channel_name=inputs["channel_name"],
        uid=uid,
        privileges=inputs["privileges"],
        ts=inputs["ts"],
        salt=inputs["salt"],
    )
    assert token == vector["expected"]


@pytest.mark.parametrize("vector", _select("006", "build"))
def test_006_vectors_parse_verify_and_match_intermediates(vector: dict[str, Any]) -> None:
    inputs, inter = vector["inputs"], vector["intermediate"]
    parsed = parse_token(vector["expected"])
    assert isinstance(parsed, ParsedLegacyToken)
    assert (parsed.version, parsed.app_id) == ("006", inputs["app_id"])
    assert (parsed.salt, parsed.ts) == (inputs["salt"], inputs["ts"])
    assert {str(k): v for k, v in parsed.privileges.items()} == inputs["privileges"]
    assert parsed.signature.hex() == inter["signature_hex"]
    assert (parsed.crc_channel_name, parsed.crc_uid) == (inter["crc32_channel"], inter["crc32_uid"])
    assert parsed.message.hex() == inter["message_hex"]
    assert zlib.crc32(inputs["uid_packed"].encode()) == inter["crc32_uid"]
    certificate = inputs["app_certificate"]
    channel, uid = inputs["channel_name"], inputs["uid"]
    assert verify(vector["expected"], certificate, channel_name=channel, uid=uid) is True
    assert verify(vector["expected"], certificate, channel_name=channel + "x", uid=uid) is False
    assert verify(vector["expected"], certificate, channel_name=channel, uid="not-the-uid") is False
    assert verify(vector["expected"], "0" * 32, channel_name=channel, uid=uid) is False


def test_006_uid_zero_and_string_zero_differ() -> None:
    """The official trap kept: account "0" is packed as "0", uid 0 as "" (vectors 006-35 and 006-37)."""
    by_id = {v["id"][:6]: v for v in _all()}
    assert by_id["006-35"]["inputs"]["uid"] == "0" and by_id["006-37"]["inputs"]["uid"] == 0
    assert by_id["006-35"]["expected"] != by_id["006-37"]["expected"]


# ------------------------------------------------------------------------------------------------ provenance


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared Agora notes are not on this machine")
def test_embedded_copy_matches_the_shared_files() -> None:
    keys = ("id", "format", "kind", "builder", "inputs", "expected", "intermediate", "official_python3_output")
    official = json.loads((SHARED / "official-token-vectors.json").read_text())["vectors"]
    examples = json.loads((SHARED / "token-examples.json").read_text())["examples"]
    assert _load(OFFICIAL_VECTORS) == [{k: v[k] for k in keys if k in v} for v in official]
    assert _load(EXAMPLES) == [{k: v[k] for k in keys if k in v} for v in examples]
