from haven.cli import main

main()
