from wantui.cli.main import main

raise SystemExit(main())
