package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Lifecycle handlers: generations, rollback, promotion, pins, retention.

func (s *Server) listGenerations(c echo.Context) error { return notYet() }
func (s *Server) rollback(c echo.Context) error        { return notYet() }
func (s *Server) promote(c echo.Context) error         { return notYet() }
func (s *Server) listPins(c echo.Context) error        { return notYet() }
func (s *Server) pin(c echo.Context) error             { return notYet() }
func (s *Server) unpin(c echo.Context) error           { return notYet() }
func (s *Server) prune(c echo.Context) error           { return notYet() }
func (s *Server) collectGarbage(c echo.Context) error  { return notYet() }

func notYet() error { return echo.NewHTTPError(http.StatusNotImplemented, "not implemented yet") }
