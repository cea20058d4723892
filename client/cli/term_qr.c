int qrl_cli_stub_term_qr;
