"""The verifier's pure checks (design/0026): what a node's messages conclude, over plain data, each
returning findings (`verify.Finding`); no store, no clock. The keys stand on them, the verifier's shell
(central/verifier/) feeds them."""
