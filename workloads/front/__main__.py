from workloads.front.app import main

raise SystemExit(main())
