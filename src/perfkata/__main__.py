from perfkata.cli import main

main()
