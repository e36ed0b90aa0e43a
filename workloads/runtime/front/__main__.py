from workloads.runtime.front.app import main

raise SystemExit(main())
