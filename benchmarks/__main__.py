import sys

if len(sys.argv) > 1 and sys.argv[1] == "forecast":
    from .forecast import main as forecast_main

    forecast_main(sys.argv[2:])
else:
    from .run import main

    main()
