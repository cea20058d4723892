int qrl_cli_stub_cli_phone;
