from dts_exporter.cli import main

main()
