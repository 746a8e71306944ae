"""Cost per hour of a transcribed channel (Agora Real-Time STT v7), at list prices, with the AWS overhead of our
72-hour restart counted from the synthesized restart workflow.

Agora's price (docs.agora.io, "Real-Time STT / Pricing", read 2026; see docs/transcriptions.md): about $16.99 per
1,000 minutes of transcription and $8.99 per 1,000 minutes per translated language. A restart costs one Wait, one
Task and one Choice transition (Step Functions Standard, $0.025 per 1,000 transitions) every 71 h 50 min.
Peer: a polling restarter (a scheduled Lambda every 5 minutes that checks each task's age), whose invocations are
counted at Lambda's request price ($0.20 per 1M) plus 128 MB x 100 ms each.
"""

from __future__ import annotations

import json
import sys

from service.transcriptions import logic

SFN_PER_TRANSITION = 0.025 / 1000
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000166667


def restart_transitions() -> int:
    """Transitions of one restart cycle, from the synthesized state machine's definition."""
    from app import build_app

    app, stack = build_app({"agoraAppId": "0123456789abcdef0123456789abcdef"})
    template = app.synth().get_stack_by_name(stack.stack_name).template
    machines = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith("TranscriptionsRestartWorkflow")
    ]
    body = machines[0]["Properties"]["DefinitionString"]
    text = "".join(p if isinstance(p, str) else "x" for p in body["Fn::Join"][1]) if isinstance(body, dict) else body
    states = json.loads(text)["States"]
    return sum(1 for s in states.values() if s["Type"] in ("Wait", "Task", "Choice"))


def main() -> int:
    per_restart = restart_transitions()
    cycle_hours = (logic.LIFETIME_MS - logic.RESTART_MARGIN_MS) / 3_600_000
    ours_aws = per_restart * SFN_PER_TRANSITION / cycle_hours
    peer_aws = 12 * (LAMBDA_PER_REQUEST + 0.128 * 0.1 * LAMBDA_PER_GB_SECOND)
    print(f"restart workflow: {per_restart} transitions per restart, one restart every {cycle_hours:.2f} h")
    print("per hour of one transcribed channel (USD):")
    for translated in range(5):
        agora = logic.cost_per_hour(translated)
        print(f"  {translated} translated language(s): Agora ${agora:8.4f}   our AWS restart overhead ${ours_aws:.8f}")
    print(f"  peer (5-minute polling restarter): ${peer_aws:.8f} per hour; ratio peer/ours {peer_aws / ours_aws:6.1f}x")
    translation = logic.cost_per_hour(1) - logic.cost_per_hour(0)
    print(
        f"SUMMARY transcription: ${logic.cost_per_hour(0):.4f}/h (Agora list price), +${translation:.4f}/h per "
        f"translated language; restart overhead ${ours_aws:.8f}/h, polling peer {peer_aws / ours_aws:.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
