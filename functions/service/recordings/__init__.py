"""Cloud recording: the API, the Step Functions task steps, the reconciler and NCS event processing.

A recording is one item in the RecordingsTable; its life is one Standard workflow execution (named after
the recording id) that acquires, starts, waits for a stop via a task token (no polling), stops and
finalizes. Modules: ``settings`` (environment), ``models`` (request bodies), ``logic`` (pure rules),
``repository`` (DynamoDB), ``control`` (completing the wait), ``operations`` (API use cases),
``workflow`` (task steps and reconciliation), ``events`` (NCS productId 3), handlers in ``handler``,
``tasks`` and ``reconciler``.
"""
