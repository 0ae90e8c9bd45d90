package icsim

import (
	"encoding/hex"
	"fmt"
	"net/http"
)

func decodeHex(s string) ([]byte, error) { return hex.DecodeString(s) }

func (s *Server) adminScenarioRoutes(mux *http.ServeMux) {}

// LoadScenarioFile loads a JSON scenario (not implemented yet).
func (s *Server) LoadScenarioFile(path string) error {
	return fmt.Errorf("icsim: scenarios are not implemented yet")
}
