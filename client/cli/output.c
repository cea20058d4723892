int qrl_cli_stub_output;
