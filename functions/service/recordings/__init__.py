"""Cloud recording: the API, the Step Functions task steps, the reconciler and NCS event processing.

A recording is one item in the RecordingsTable; its life is one Standard workflow execution (named after
the recording id) that acquires, starts, waits for a stop via a task token (no polling), stops and
finalizes. Modules:

- entry points (one per Lambda function): ``api_handler`` (the API), ``workflow_tasks_handler`` (the
  state machine's task steps), ``reconciler_handler`` (the schedule); NCS events arrive through the
  webhook processor, which calls ``events.apply_recording_event``;
- use cases: ``operations`` (API), ``workflow`` (task steps), ``reconcile`` (reconciler), ``events``
  (NCS productId 3), ``control`` (completing the wait, shared by all four);
- ``logic`` (pure rules), ``models`` (request bodies), ``settings`` (environment);
- ``repository`` (DynamoDB, behind intent-named writes), ``ports`` (the Protocols for Agora and
  Step Functions), ``deps`` (building them).
"""
