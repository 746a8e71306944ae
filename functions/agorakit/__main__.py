from agorakit.cli import main

raise SystemExit(main())
