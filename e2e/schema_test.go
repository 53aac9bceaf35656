package e2e

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/storegraph/storegraph/storage/storagetest"
)

// contractSchema is the API the server promises, verbatim from its specification.
const contractSchema = `
scalar Time
interface Node { id: ID! }
type Store implements Node { id: ID!  name: String!  createdAt: Time!  updatedAt: Time!  owner: User
  items(first: Int, after: String, last: Int, before: String, filter: ItemFilter, orderBy: ItemOrder): ItemConnection! }
type Item implements Node { id: ID!  name: String!  price: Float!  store: Store!  createdAt: Time!  updatedAt: Time! }
enum Role { USER ADMIN }
type User implements Node { id: ID!  email: String!  role: Role!  createdAt: Time!
  stores(first: Int, after: String, last: Int, before: String): StoreConnection! }
type Session { accessToken: String!  accessTokenExpiresAt: Time!  refreshToken: String!  refreshTokenExpiresAt: Time!  user: User! }
type PageInfo { hasNextPage: Boolean!  hasPreviousPage: Boolean!  startCursor: String  endCursor: String }
type StoreEdge { cursor: String!  node: Store! }
type StoreConnection { edges: [StoreEdge!]!  nodes: [Store!]!  pageInfo: PageInfo!  totalCount: Int! }
type ItemEdge { cursor: String!  node: Item! }
type ItemConnection { edges: [ItemEdge!]!  nodes: [Item!]!  pageInfo: PageInfo!  totalCount: Int! }
enum SortDirection { ASC DESC }
enum StoreOrderField { ID NAME CREATED_AT }
enum ItemOrderField { ID NAME PRICE CREATED_AT }
input StoreOrder { field: StoreOrderField!  direction: SortDirection! = ASC }
input ItemOrder { field: ItemOrderField!  direction: SortDirection! = ASC }
input StoreFilter { nameContains: String }
input ItemFilter { storeId: ID  nameContains: String  minPrice: Float  maxPrice: Float }
type Query {
  me: User
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  store(id: ID!): Store
  stores(first: Int, after: String, last: Int, before: String, filter: StoreFilter, orderBy: StoreOrder): StoreConnection!
  item(id: ID!): Item
  items(first: Int, after: String, last: Int, before: String, filter: ItemFilter, orderBy: ItemOrder): ItemConnection!
}
input CreateStoreInput { name: String! }
input UpdateStoreInput { name: String! }
input CreateItemInput { name: String!  price: Float!  storeId: ID! }
input UpdateItemInput { name: String  price: Float  storeId: ID }
input RegisterInput { email: String!  password: String! }
input LoginInput { email: String!  password: String! }
input ChangePasswordInput { currentPassword: String!  newPassword: String! }
type Mutation {
  createStore(input: CreateStoreInput!): Store!
  updateStore(id: ID!, input: UpdateStoreInput!): Store!
  deleteStore(id: ID!): ID!
  createItem(input: CreateItemInput!): Item!
  updateItem(id: ID!, input: UpdateItemInput!): Item!
  deleteItem(id: ID!): ID!
  register(input: RegisterInput!): Session!
  login(input: LoginInput!): Session!
  refreshSession(refreshToken: String!): Session!
  logout(allSessions: Boolean! = false): Boolean!
  changePassword(input: ChangePasswordInput!): Session!
  setUserRole(userId: ID!, role: Role!): User!
}
`

// parseContract turns contractSchema into canonical lines per type name, e.g.
// "Query.store(id: ID!): Store", "StoreOrder.direction: SortDirection! = ASC", "SortDirection.ASC",
// "Store implements Node", and "Node is an interface".
func parseContract(t testing.TB) map[string][]string {
	t.Helper()
	types := map[string][]string{}
	block := regexp.MustCompile(`(?s)(type|input|enum|interface)\s+(\w+)\s*(?:implements\s+([\w\s&]+?))?\s*\{(.*?)\}`)
	field := regexp.MustCompile(`(\w+)\s*(?:\(([^)]*)\))?\s*:\s*([\w!\[\]]+)(?:\s*=\s*(\w+))?`)
	arg := regexp.MustCompile(`(\w+)\s*:\s*([\w!\[\]]+)(?:\s*=\s*(\w+))?`)
	for _, m := range block.FindAllStringSubmatch(contractSchema, -1) {
		kind, name, implements, body := m[1], m[2], m[3], m[4]
		lines := []string{}
		for _, iface := range strings.FieldsFunc(implements, func(r rune) bool { return r == '&' || r == ' ' }) {
			lines = append(lines, name+" implements "+iface)
		}
		if kind == "interface" {
			lines = append(lines, name+" is an interface")
		}
		if kind == "enum" {
			for _, v := range strings.Fields(body) {
				lines = append(lines, name+"."+v)
			}
		} else {
			for _, f := range field.FindAllStringSubmatch(body, -1) {
				var args []string
				for _, a := range arg.FindAllStringSubmatch(f[2], -1) {
					args = append(args, canonicalValue(a[1], a[2], a[3]))
				}
				lines = append(lines, name+"."+canonicalField(f[1], args, f[3], f[4]))
			}
		}
		types[name] = lines
	}
	for _, scalar := range regexp.MustCompile(`scalar\s+(\w+)`).FindAllStringSubmatch(contractSchema, -1) {
		types[scalar[1]] = []string{}
	}
	if len(types) != 28 {
		t.Fatalf("parsed %d types from the contract schema, want 28", len(types))
	}
	return types
}

func canonicalValue(name, typ, def string) string {
	s := name + ": " + typ
	if def != "" {
		s += " = " + def
	}
	return s
}

func canonicalField(name string, args []string, typ, def string) string {
	if len(args) > 0 {
		name += "(" + strings.Join(args, ", ") + ")"
	}
	return canonicalValue(name, typ, def)
}

// typeRef is an introspection __Type reference.
type typeRef struct {
	Kind   string   `json:"kind"`
	Name   *string  `json:"name"`
	OfType *typeRef `json:"ofType"`
}

func (r *typeRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return *r.Name
}

type inputValue struct {
	Name         string  `json:"name"`
	Type         typeRef `json:"type"`
	DefaultValue *string `json:"defaultValue"`
}

func (v inputValue) canonical() string {
	def := ""
	if v.DefaultValue != nil {
		def = *v.DefaultValue
	}
	return canonicalValue(v.Name, v.Type.String(), def)
}

const introspectionQuery = `{
  __schema {
    queryType { name }
    mutationType { name }
    types {
      name kind
      interfaces { name }
      possibleTypes { name }
      fields { name type { ...T } args { name defaultValue type { ...T } } }
      inputFields { name defaultValue type { ...T } }
      enumValues { name }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`

func TestSchemaMatchesContract(t *testing.T) {
	t.Parallel()
	want := parseContract(t)
	eachBackend(t, func(t *testing.T, s *server) {
		var d struct {
			Schema struct {
				QueryType    struct{ Name string } `json:"queryType"`
				MutationType struct{ Name string } `json:"mutationType"`
				Types        []struct {
					Name          string                  `json:"name"`
					Kind          string                  `json:"kind"`
					Interfaces    []struct{ Name string } `json:"interfaces"`
					PossibleTypes []struct{ Name string } `json:"possibleTypes"`
					Fields        []struct {
						Name string       `json:"name"`
						Type typeRef      `json:"type"`
						Args []inputValue `json:"args"`
					} `json:"fields"`
					InputFields []inputValue `json:"inputFields"`
					EnumValues  []struct {
						Name string `json:"name"`
					} `json:"enumValues"`
				} `json:"types"`
			} `json:"__schema"`
		}
		s.OK(t, &d, introspectionQuery, nil)
		if d.Schema.QueryType.Name != "Query" || d.Schema.MutationType.Name != "Mutation" {
			t.Errorf("root types %q/%q, want Query/Mutation", d.Schema.QueryType.Name, d.Schema.MutationType.Name)
		}

		got := map[string][]string{}
		var nodeTypes []string
		for _, typ := range d.Schema.Types {
			lines := []string{}
			for _, iface := range typ.Interfaces {
				lines = append(lines, typ.Name+" implements "+iface.Name)
			}
			if typ.Kind == "INTERFACE" {
				lines = append(lines, typ.Name+" is an interface")
			}
			for _, f := range typ.Fields {
				var args []string
				for _, a := range f.Args {
					args = append(args, a.canonical())
				}
				lines = append(lines, typ.Name+"."+canonicalField(f.Name, args, f.Type.String(), ""))
			}
			for _, f := range typ.InputFields {
				lines = append(lines, typ.Name+"."+f.canonical())
			}
			for _, v := range typ.EnumValues {
				lines = append(lines, typ.Name+"."+v.Name)
			}
			got[typ.Name] = lines
			if typ.Name == "Node" {
				for _, p := range typ.PossibleTypes {
					nodeTypes = append(nodeTypes, p.Name)
				}
			}
		}
		// What node(id:) may return: the types that implement Node.
		if slices.Sort(nodeTypes); !slices.Equal(nodeTypes, []string{"Item", "Store", "User"}) {
			t.Errorf("Node's possible types are %v, want Item, Store and User", nodeTypes)
		}

		for name, wantLines := range want {
			gotLines, ok := got[name]
			if !ok {
				t.Errorf("type %s is missing from the schema", name)
				continue
			}
			for _, l := range wantLines {
				if !slices.Contains(gotLines, l) {
					t.Errorf("schema lacks %s", l)
				}
			}
			for _, l := range gotLines {
				if !slices.Contains(wantLines, l) {
					t.Errorf("schema has %s, which the contract does not", l)
				}
			}
		}
	})
}

// canonicalSDL parses SDL and prints it again, so that two schemas compare by meaning
// (descriptions included) rather than by layout.
func canonicalSDL(t testing.TB, name, sdl string) string {
	t.Helper()
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: name, Input: sdl})
	if err != nil {
		t.Fatalf("%s does not parse: %v", name, err)
	}
	var b bytes.Buffer
	formatter.NewFormatter(&b).FormatSchema(schema)
	return b.String()
}

// TestSchemaForTools checks what code generators and relay-compiler read: the SDL at
// /schema.graphql and the Time scalar's specification.
func TestSchemaForTools(t *testing.T) {
	t.Parallel()
	s := startServer(t, "sqlite", storagetest.NewSQLite(t))

	t.Run("the SDL is schema.graphqls", func(t *testing.T) {
		status, header, body := s.get(t, "/schema.graphql")
		if status != 200 || header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("GET /schema.graphql: %d %q, want 200 text/plain; charset=utf-8", status, header.Get("Content-Type"))
		}
		file, err := os.ReadFile("../schema.graphqls")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := canonicalSDL(t, "/schema.graphql", body), canonicalSDL(t, "schema.graphqls", string(file)); got != want {
			t.Fatalf("the served SDL differs from schema.graphqls:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("Time is specified by RFC 3339", func(t *testing.T) {
		var d struct {
			Type struct {
				SpecifiedByURL *string `json:"specifiedByURL"`
			} `json:"__type"`
		}
		s.OK(t, &d, `{ __type(name: "Time") { specifiedByURL } }`, nil)
		if got := d.Type.SpecifiedByURL; got == nil || *got != "https://www.rfc-editor.org/rfc/rfc3339" {
			t.Fatalf("Time's specifiedByURL = %v, want https://www.rfc-editor.org/rfc/rfc3339", got)
		}
	})
}
