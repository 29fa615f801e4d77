from mas_cli.cli import main

raise SystemExit(main())
